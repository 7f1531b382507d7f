/**
 * The container and process handlers' diffs: what recreates a container or restarts a daemon,
 * and what an in-place update only records (envctl's own http/tcp probe settings).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { container, containerChanges } from "../../lib/providers/docker";
import { processChanges, processHandler } from "../../lib/providers/process";
import type { HealthCheck } from "../../lib/spec/model";

const timing = { intervalMs: 250, timeoutMs: 5_000, retries: 30, startPeriodMs: 0 };
const http: HealthCheck = { kind: "http", path: "/healthz", port: 8080, ...timing };
const tcp: HealthCheck = { kind: "tcp", port: 8080, ...timing };
const cmd: HealthCheck = { kind: "command", command: "pg_isready", ...timing };

function containerProps(health?: HealthCheck, over: Record<string, unknown> = {}) {
  return {
    name: "envctl-e-web",
    image: "sha256:abc",
    env: { A: "1" },
    ports: [{ container: 8080, host: 10000, protocol: "tcp" }],
    volumes: [],
    network: "envctl-e",
    aliases: ["web"],
    labels: { "envctl.env": "e" },
    health,
    containerId: "c0ffee",
    ...over,
  };
}

describe("containerChanges", () => {
  it("updates in place when only an http or tcp check changes (Docker never sees it)", () => {
    const changes = [
      [http, { ...http, timeoutMs: 1_000 }],
      [http, { ...http, intervalMs: 100, retries: 5, startPeriodMs: 2_000 }],
      [http, { ...http, path: "/ready" }],
      [tcp, { ...tcp, intervalMs: 1_000 }],
      [http, tcp],
      [http, undefined],
      [undefined, tcp],
    ] as const;
    for (const [a, b] of changes) {
      assert.deepEqual(
        containerChanges(containerProps(a), containerProps(b)),
        { replaces: [], updates: ["health"] },
        `${JSON.stringify(a)} -> ${JSON.stringify(b)}`,
      );
    }
  });

  it("replaces when the change reaches Docker's HEALTHCHECK or any other Docker input", () => {
    const changes = [
      [cmd, { ...cmd, timeoutMs: 1_000 }],
      [cmd, { ...cmd, command: "true" }],
      [http, cmd],
      [cmd, tcp],
      [undefined, cmd],
      [cmd, undefined],
    ] as const;
    for (const [a, b] of changes) {
      assert.deepEqual(
        containerChanges(containerProps(a), containerProps(b)),
        { replaces: ["health"], updates: [] },
        `${JSON.stringify(a)} -> ${JSON.stringify(b)}`,
      );
    }
    assert.deepEqual(
      containerChanges(containerProps(http), containerProps(tcp, { env: { A: "2" } })),
      { replaces: ["env"], updates: ["health"] },
    );
    assert.deepEqual(containerChanges(containerProps(http), containerProps(http)), {
      replaces: [],
      updates: [],
    });
  });

  it("an update keeps the container: same containerId, new health stored", async () => {
    const olds = containerProps(http);
    const news = containerProps({ ...http, timeoutMs: 1_000 }, { containerId: undefined });
    const { outs } = await container.update!("c0ffee", olds, news);
    assert.equal(outs.containerId, "c0ffee");
    assert.deepEqual(outs.health, news.health);
  });
});

describe("process handler", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-providers-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const props = (health?: HealthCheck, over: Record<string, unknown> = {}) => ({
    name: "sleeper",
    stateDir: path.join(dir, "state"),
    cwd: dir,
    cmd: "exec sleep 600",
    vars: {},
    envFile: path.join(dir, "env.sh"),
    envShHash: "h",
    ports: [],
    health,
    pid: undefined,
    ...over,
  });

  it("processChanges: health is recorded, everything the daemon sees restarts it", () => {
    assert.deepEqual(processChanges(props(http), props({ ...http, intervalMs: 50 })), {
      replaces: [],
      updates: ["health"],
    });
    assert.deepEqual(processChanges(props(http), props(tcp, { cmd: "exec sleep 1" })), {
      replaces: ["cmd"],
      updates: ["health"],
    });
  });

  it("a health change on a running daemon is an update that keeps its pid", async () => {
    fs.writeFileSync(path.join(dir, "env.sh"), "");
    const { outs: olds } = await processHandler.create(props());
    try {
      assert.equal(typeof olds.pid, "number");
      const news = props({ ...tcp, port: 1, timeoutMs: 1_000 });
      assert.deepEqual(await processHandler.diff("id", olds, news), {
        changes: true,
        replaces: [],
        deleteBeforeReplace: true,
      });
      const { outs } = await processHandler.update!("id", olds, news);
      assert.equal(outs.pid, olds.pid);
      assert.deepEqual(outs.health, news.health);
      // Still the same daemon, so the next diff is clean.
      assert.deepEqual(await processHandler.diff("id", outs, news), {
        changes: false,
        replaces: [],
        deleteBeforeReplace: true,
      });
      // An env made before recipes were kept: the diff writes the recipe from the recorded
      // state and stays clean (the stack previews unchanged), the daemon keeps running.
      const recipe = path.join(dir, "state", "sleeper.run.json");
      fs.rmSync(recipe);
      assert.deepEqual(await processHandler.diff("id", outs, news), {
        changes: false,
        replaces: [],
        deleteBeforeReplace: true,
      });
      assert.equal(
        (JSON.parse(fs.readFileSync(recipe, "utf8")) as { cmd: string }).cmd,
        "exec sleep 600",
      );
    } finally {
      await processHandler.delete("id", olds);
    }
    assert.ok(!fs.existsSync(path.join(dir, "state", "sleeper.run.json")), "recipe left");
  });
});
