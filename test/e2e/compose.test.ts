/**
 * Compose import for real: `envctl up NAME -f docker-compose.yml -f docker-compose.override.yml`
 * runs the project's containers on the env's port block with namespaced volumes, the override's
 * environment, env_file, ulimits and a health-gated dependency; ignored keys are named.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { assertCreatedNothing, assertNoTrace, envctl, said } from "../support/cli";
import { envName, makeRepo, ROOT, tempDir } from "../support/env";

const FIXTURE = path.join(ROOT, "test", "fixtures", "compose", "real");

function firstLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    sock.setTimeout(5000, () => sock.destroy(new Error("timed out")));
    sock.once("data", (d) => {
      sock.destroy();
      resolve(d.toString().trim());
    });
    sock.once("error", reject);
  });
}

function inspect(container: string): {
  Config: { Env: string[] };
  HostConfig: {
    Ulimits: { Name: string; Soft: number; Hard: number }[] | null;
    RestartPolicy: { Name: string };
  };
  NetworkSettings: { Ports: Record<string, { HostPort: string }[] | null> };
  Mounts: { Name?: string; Destination: string }[];
  State: { StartedAt: string };
} {
  const out = execFileSync("docker", ["inspect", container], { encoding: "utf8" });
  return (JSON.parse(out) as ReturnType<typeof inspect>[])[0]!;
}

describe("compose files as the spec", { timeout: 10 * 60_000 }, () => {
  const home = tempDir("home");
  const repo = makeRepo({ copyFrom: FIXTURE });
  const name = envName("compose");
  after(async () => {
    await envctl(["destroy", name, "--yes", "--force"], { home, cwd: repo });
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(repo, { recursive: true, force: true });
  });

  it("validate names the keys envctl ignores and accepts the project", async () => {
    const r = await envctl(
      ["validate", "-f", "docker-compose.yml", "-f", "docker-compose.override.yml"],
      { home, cwd: repo },
    );
    assert.equal(r.code, 0, said(r));
    assert.match(r.stdout + r.stderr, /container_name/);
    // restart is honoured now (Compose's keys reach Docker): no warning for it.
    assert.doesNotMatch(r.stdout + r.stderr, /"restart" is ignored/);
    assert.ok(!fs.existsSync(path.join(home, "catalog.db")), "validate created nothing");
  });

  it("up runs it on the env's block; destroy leaves nothing", async () => {
    const r = await envctl(
      ["up", name, "-f", "docker-compose.yml", "-f", "docker-compose.override.yml", "--yes"],
      { home, cwd: repo },
    );
    assert.equal(r.code, 0, said(r));
    assertNoTrace(r);
    // Published 6379 -> the block's base + 379; the override's environment beats env_file.
    const kv = inspect(`envctl-${name}-kv`);
    const host = Number(kv.NetworkSettings.Ports["6379/tcp"]?.[0]?.HostPort);
    assert.equal(host % 1000, 379);
    assert.equal(await firstLine(host), "+PONG override");
    assert.equal(kv.HostConfig.RestartPolicy.Name, "unless-stopped", "compose restart: honoured");
    assert.ok(kv.Config.Env.includes("KV_UNUSED=1"), "env_file read");
    assert.deepEqual(kv.HostConfig.Ulimits, [{ Name: "nofile", Soft: 4096, Hard: 8192 }]);
    assert.deepEqual(
      kv.Mounts.map((m) => [m.Name, m.Destination]),
      [[`envctl-${name}-kvdata`, "/data"]],
    );
    const worker = inspect(`envctl-${name}-worker`);
    assert.ok(worker.Config.Env.includes("KV_URL=tcp://kv:6379"));
    // service_healthy: the worker started only after kv was up.
    assert.ok(Date.parse(worker.State.StartedAt) > Date.parse(kv.State.StartedAt));

    const d = await envctl(["destroy", name, "--yes"], { home, cwd: repo });
    assert.equal(d.code, 0, said(d));
    assertCreatedNothing(home, repo, name, true);
  });
});
