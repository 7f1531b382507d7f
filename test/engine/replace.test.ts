/**
 * No spurious replaces, on the real engine: a change only envctl sees (the timing of its own
 * http/tcp probes) updates the stored inputs and keeps the container and the daemon; a change
 * Docker sees (a `command` check, which is the container's HEALTHCHECK) still recreates.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { destroy } from "../../cli/commands/destroy";
import { preview } from "../../cli/commands/preview";
import { up } from "../../cli/commands/up";
import { envDir } from "../../lib/core/home";
import { containerName } from "../../lib/core/names";
import { daemonStatus } from "../../lib/runtime/daemon";
import {
  capture,
  dockerLeftovers,
  envName,
  makeRepo,
  PONG_CONTAINER,
  ROOT,
  tempHome,
} from "../support/env";

/** `probe`: timeout and interval of the tcp and http checks; `idle`: the command check's interval. */
const spec = (p: { probe: [string, string]; idle: string }): string => `base: main
services:
  cache:
${PONG_CONTAINER}
    health: { tcp: 6379, timeout: ${p.probe[0]}, interval: ${p.probe[1]} }
  idle:
    image: debian:bookworm
    command: [sh, -c, "exec sleep infinity"]
    health: { command: "true", interval: ${p.idle} }
  api:
    cmd: node api/server.js
    ports: [{ container: 3000, offset: 0 }]
    health: { http: /healthz, timeout: ${p.probe[0]}, interval: ${p.probe[1]} }
exports:
  PORT: "{{ports.api}}"
`;

interface PreviewDoc {
  changes: Record<string, number>;
  operations: { op: string; name: string; diffs?: string[] }[];
}

describe("changes only envctl sees do not replace", { timeout: 10 * 60_000 }, () => {
  const home = tempHome();
  const repo = makeRepo({
    files: {
      "envctl.yaml": spec({ probe: ["2s", "250ms"], idle: "200ms" }),
      "api/server.js": fs.readFileSync(
        path.join(ROOT, "test", "fixtures", "devenv", "api", "server.js"),
        "utf8",
      ),
    },
  });
  const file = path.join(repo, "envctl.yaml");
  const name = envName("norep");
  after(async () => {
    await destroy({ name, home, cwd: repo, force: true, yes: true, log: () => {} }).catch(() => {});
  });

  const containerId = (svc: string): string =>
    execFileSync("docker", ["inspect", "-f", "{{.Id}}", containerName(name, svc)], {
      encoding: "utf8",
    }).trim();
  const apiPid = (): number | undefined => daemonStatus(envDir(home, name), "api").pid;
  const planned = async (): Promise<PreviewDoc> => {
    const c = capture();
    await preview({ name, file, json: true, home, cwd: repo, ...c.seams });
    return JSON.parse(c.out.join("")) as PreviewDoc;
  };
  const ops = (doc: PreviewDoc): [string, string, string[] | undefined][] =>
    doc.operations
      .map((o): [string, string, string[] | undefined] => [o.op, o.name, o.diffs])
      .sort(([, a], [, b]) => a.localeCompare(b));

  it("probe timing updates in place (same container, same daemon); a command check replaces", async () => {
    await up({ name, file, yes: true, home, cwd: repo, ...capture().seams });
    const cache = containerId("cache");
    const idle = containerId("idle");
    const pid = apiPid();
    assert.ok(pid, "api daemon running");

    fs.writeFileSync(file, spec({ probe: ["3s", "100ms"], idle: "200ms" }));
    const probe = await planned();
    assert.deepEqual(ops(probe), [
      ["update", `${name}-api`, ["health"]],
      ["update", `${name}-cache`, ["health"]],
    ]);
    assert.ok(!probe.changes.replace, "nothing replaced");

    await up({ name, file, yes: true, home, cwd: repo, ...capture().seams });
    assert.equal(containerId("cache"), cache, "the tcp-checked container was kept");
    assert.equal(containerId("idle"), idle);
    assert.equal(apiPid(), pid, "the daemon was not restarted");
    assert.deepEqual(ops(await planned()), [], "the new checks were stored");

    fs.writeFileSync(file, spec({ probe: ["3s", "100ms"], idle: "300ms" }));
    const command = await planned();
    assert.deepEqual(ops(command), [["replace", `${name}-idle`, ["health"]]]);
    await up({ name, file, yes: true, home, cwd: repo, ...capture().seams });
    assert.notEqual(containerId("idle"), idle, "a new HEALTHCHECK needs a new container");
    assert.equal(containerId("cache"), cache);
    assert.equal(apiPid(), pid);

    await destroy({ name, home, cwd: repo, yes: true, ...capture().seams });
    assert.deepEqual(dockerLeftovers(name), { containers: [], volumes: [], networks: [] });
  });
});
