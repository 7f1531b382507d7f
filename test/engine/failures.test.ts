/**
 * Failures mid-operation: a service that never gets healthy, an interrupted up, and a stack
 * whose Pulumi checkpoint is corrupt.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { destroy } from "../../cli/commands/destroy";
import { recover } from "../../cli/commands/recover";
import { up } from "../../cli/commands/up";
import { Catalog } from "../../lib/catalog/catalog";
import { UserError } from "../../lib/core/errors";
import { assertNoTrace, envctl, said } from "../support/cli";
import {
  capture,
  dockerLeftovers,
  envName,
  makeRepo,
  tempHome,
  worktreeDirs,
} from "../support/env";

const spec = (command: string): string => `services:
  app:
    image: debian:bookworm
    command: ${JSON.stringify(command)}
    volumes: ["scratch:/scratch"]
    health: { command: "test -f /tmp/ok", interval: 200ms, retries: 10 }
`;

describe("failures leave the env recoverable", { timeout: 10 * 60_000 }, () => {
  const home = tempHome();
  const names: string[] = [];
  after(async () => {
    for (const n of names)
      await destroy({ name: n, home, force: true, yes: true, log: () => {} }).catch(() => {});
  });

  it("an unhealthy service fails up with its log tail, leaks no container, and a fixed spec recovers", async () => {
    const repo = makeRepo({ files: { "envctl.yaml": spec("echo boom-from-app; exit 3") } });
    const name = envName("fail");
    names.push(name);
    const file = path.join(repo, "envctl.yaml");
    await assert.rejects(
      up({ name, file, yes: true, home, cwd: repo, ...capture().seams }),
      (err: unknown) => {
        assert.ok(err instanceof UserError);
        assert.equal(err.exitCode, 1);
        const text = [err.message, ...err.details].join("\n");
        assert.match(text, /boom-from-app/, "the service's log tail is shown");
        assert.match(text, /envctl up .* again|envctl destroy/, "says how to recover");
        return true;
      },
    );
    assert.deepEqual(dockerLeftovers(name).containers, [], "the failed container was removed");
    const catalog = Catalog.open(home.catalogFile);
    assert.equal(catalog.getEnv(name)?.status, "failed");
    catalog.close();

    fs.writeFileSync(file, spec("touch /tmp/ok; exec sleep infinity"));
    const out = await up({ name, file, yes: true, home, cwd: repo, ...capture().seams });
    assert.equal(out.branch, `${name}-workspace`);
    assert.equal(dockerLeftovers(name).containers.length, 1);

    // Work in progress in the worktree blocks destroy unless --force.
    fs.writeFileSync(path.join(out.worktree as string, "wip.txt"), "not committed\n");
    await assert.rejects(
      destroy({ name, home, cwd: repo, yes: true, ...capture().seams }),
      (err: unknown) =>
        err instanceof UserError &&
        /that exists nowhere else/.test(err.message) &&
        err.details.some((d) => d.includes("wip.txt")),
    );
    assert.equal(dockerLeftovers(name).containers.length, 1, "a refused destroy touches nothing");
    await destroy({ name, home, cwd: repo, yes: true, force: true, ...capture().seams });
    assert.deepEqual(dockerLeftovers(name), { containers: [], volumes: [], networks: [] });
    assert.equal(worktreeDirs(repo).length, 1);
  });

  it("an interrupted up (Ctrl-C) can be recovered and destroyed without leftovers", async () => {
    const repo = makeRepo({
      files: { "envctl.yaml": spec("sleep 3; touch /tmp/ok; exec sleep infinity") },
    });
    const name = envName("intr");
    names.push(name);
    const controller = new AbortController();
    const c = capture();
    // Interrupt once the container is being created (it takes ~3 s to become healthy).
    const timer = setInterval(() => {
      if (c.log.some((l) => /Container .*: creating/.test(l))) controller.abort();
    }, 100);
    try {
      await assert.rejects(
        up({
          name,
          file: path.join(repo, "envctl.yaml"),
          yes: true,
          home,
          cwd: repo,
          signal: controller.signal,
          ...c.seams,
        }),
        (err: unknown) =>
          err instanceof UserError &&
          /interrupted/.test(err.message) &&
          err.details.some((d) => /destroy/.test(d)),
      );
    } finally {
      clearInterval(timer);
    }
    await recover({ name, home, cwd: repo, ...capture().seams });
    await destroy({ name, home, cwd: repo, yes: true, ...capture().seams });
    assert.deepEqual(dockerLeftovers(name), { containers: [], volumes: [], networks: [] });
    assert.equal(worktreeDirs(repo).length, 1);
  });

  it("a corrupt checkpoint fails up, destroy and recover with pulumi's own reason", async () => {
    const repo = makeRepo({ files: { "envctl.yaml": "services:\n  app:\n    cmd: sleep 600\n" } });
    const name = envName("ckpt");
    names.push(name);
    const file = path.join(repo, "envctl.yaml");
    await up({ name, file, yes: true, home, cwd: repo, ...capture().seams });
    const checkpoint = path.join(home.stateDir, ".pulumi", "stacks", "envctl", `${name}.json`);
    const good = fs.readFileSync(checkpoint);
    fs.writeFileSync(checkpoint, good.subarray(0, 200)); // cut mid-document
    try {
      const reason = /failed to load checkpoint: .*unexpected end of JSON input/;
      await assert.rejects(
        up({ name, file, yes: true, home, cwd: repo, ...capture().seams }),
        (err: unknown) => {
          assert.ok(err instanceof UserError, String(err));
          assert.equal(err.exitCode, 1);
          assert.equal(err.message, `up of ${name} failed`);
          const text = err.details.join("\n");
          assert.match(text, reason, "pulumi's reason is shown");
          assert.match(text, /\.json\.bak|pulumi stack import/, "says how to restore the state");
          assert.match(text, /envctl up .* again/, "the verb's own recovery hint stays");
          return true;
        },
      );
      for (const [verb, run] of [
        [
          "destroy",
          () => destroy({ name, home, cwd: repo, yes: true, force: true, log: () => {} }),
        ],
        ["recover", () => recover({ name, home, cwd: repo, log: () => {} })],
      ] as const) {
        await assert.rejects(run(), (err: unknown) => {
          assert.ok(err instanceof UserError, `${verb}: ${String(err)}`);
          assert.match([err.message, ...err.details].join("\n"), reason, verb);
          return true;
        });
      }
      // The built CLI prints it too, without a stack trace.
      const r = await envctl(["up", name, "-y"], { home: home.root, cwd: repo });
      assert.equal(r.code, 1, said(r));
      assertNoTrace(r);
      assert.match(r.stderr, new RegExp(`envctl: up of ${name} failed`), said(r));
      assert.match(r.stderr, reason, said(r));
    } finally {
      fs.writeFileSync(checkpoint, good);
    }
  });
});
