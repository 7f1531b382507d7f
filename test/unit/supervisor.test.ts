import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parseSince } from "../../cli/ui/since";
import { formatSpan } from "../../lib/core/display";
import {
  coolSome,
  downstreamClosure,
  runningServices,
  warmSome,
} from "../../lib/kinds/devenv/lifecycle";
import { page502, resolveHost, routeNames, type EnvRoutes } from "../../lib/proxy/routes";
import { supervisorConfig } from "../../lib/providers/supervisor";
import {
  daemonStatus,
  processGroupMembers,
  readExitStatus,
  startDaemon,
  stopDaemon,
  unstamp,
} from "../../lib/runtime/daemon";
import { ExponentialBackoff, restarts } from "../../lib/supervisor/backoff";
import { DEFAULT_BACKOFF, type SupervisorConfig } from "../../lib/supervisor/model";
import { Supervisor } from "../../lib/supervisor/supervisor";
import { runFilePath, startProcess } from "../../lib/runtime/service";
import { processId } from "../../lib/runtime/processes";
import Database from "better-sqlite3";
import { ignoreMatcher } from "../../lib/supervisor/watch";

describe("the restart policy", () => {
  it("backs off 1s, 2s, 4s ... capped at 30s, and starts over after 60s of health", () => {
    const b = new ExponentialBackoff(DEFAULT_BACKOFF);
    assert.deepEqual(
      Array.from({ length: 8 }, () => b.next()),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
    );
    assert.equal(b.ranHealthy(59_999), false, "not long enough");
    assert.equal(b.next(), 30000);
    assert.equal(b.ranHealthy(60_000), true);
    assert.equal(b.next(), 1000);
    assert.equal(b.ranHealthy(120_000), true, "forgiven once more after the 1s crash");
    assert.equal(b.ranHealthy(120_000), false, "nothing to forgive");
  });

  it("no never restarts, on-failure restarts all but a clean exit, always restarts", () => {
    assert.equal(restarts("no", { code: 1 }), false);
    assert.equal(restarts("no", { unhealthy: true }), false);
    assert.equal(restarts("on-failure", { code: 0 }), false);
    assert.equal(restarts("on-failure", { code: 137 }), true);
    assert.equal(restarts("on-failure", {}), true, "killed: no exit status");
    assert.equal(restarts("on-failure", { code: 0, unhealthy: true }), true);
    assert.equal(restarts("always", { code: 0 }), true);
  });
});

describe("watch.ignore", () => {
  const root = "/wt/app/src";
  const ignored = ignoreMatcher([root, "/wt/app/cfg.hcl"], ["target", "*.lock", "gen/**/*.ts"]);

  it("matches any segment below the watched root, or the path from it", () => {
    assert.equal(ignored(`${root}/target/debug/x`), true);
    assert.equal(ignored(`${root}/Cargo.lock`), true);
    assert.equal(ignored(`${root}/deep/er/yarn.lock`), true);
    assert.equal(ignored(`${root}/gen/a/b.ts`), true);
    assert.equal(ignored(`${root}/main.rs`), false);
    assert.equal(ignored(`${root}/gen/a/b.js`), false);
    assert.equal(ignored(root), false, "the root itself is watched");
    assert.equal(ignored("/wt/app/cfg.hcl"), false);
  });

  it("the segments above the root never count", () => {
    const m = ignoreMatcher(["/home/target/src"], ["target"]);
    assert.equal(m("/home/target/src/a.rs"), false);
    assert.equal(ignoreMatcher(["/x"], [])("/x/target"), false);
  });
});

describe("the *.localhost routes", () => {
  const table: EnvRoutes[] = [
    {
      env: "t1",
      proxyPort: 7080,
      routes: [
        { subdomain: "api", service: "api", port: 10000 },
        { subdomain: "web", service: "web", port: 10001 },
      ],
    },
    { env: "t2", proxyPort: 7080, routes: [{ subdomain: "api", service: "api", port: 11000 }] },
  ];

  it("routes <sub>.<env>.localhost, and <sub>.localhost when one env has it", () => {
    assert.deepEqual(resolveHost("api.t2.localhost:7080", table), {
      target: { port: 11000, env: "t2", service: "api" },
    });
    assert.deepEqual(resolveHost("WEB.localhost", table), {
      target: { port: 10001, env: "t1", service: "web" },
    });
    assert.deepEqual(resolveHost("web.t1.localhost.", table), {
      target: { port: 10001, env: "t1", service: "web" },
    });
    assert.deepEqual(resolveHost("api.localhost", table), {
      miss: "ambiguous",
      candidates: ["api.t1.localhost", "api.t2.localhost"],
    });
    assert.deepEqual(resolveHost("nope.t1.localhost", table), { miss: "unknown" });
    assert.deepEqual(resolveHost("example.com", table), { miss: "not-localhost" });
    assert.deepEqual(resolveHost(undefined, table), { miss: "not-localhost" });
  });

  it("the 502 page lists every address, escaped", () => {
    assert.deepEqual(
      routeNames(table).map((r) => r.host),
      ["api.t1.localhost", "web.t1.localhost", "web.localhost", "api.t2.localhost"],
    );
    const page = page502("No route for <x>.", table, 7080);
    assert.match(page, /No route for &#60;x&#62;\./);
    assert.match(page, /href="http:\/\/web\.localhost:7080\/"/);
    assert.match(page502("x", [], 7080), /No env routes anything right now/);
  });
});

describe("warm and cool of some services", () => {
  const services = [
    { name: "db", cold: false, dependsOn: [] },
    { name: "cache", cold: false, dependsOn: [] },
    { name: "api", cold: false, dependsOn: ["db", "cache"] },
    { name: "web", cold: false, dependsOn: ["api"] },
    { name: "sdk", cold: true, dependsOn: [] },
  ];

  it("warm NAME api from cold runs api and what it needs (and the cold ones)", () => {
    const w = warmSome(services, "cold", undefined, ["api"]);
    assert.deepEqual(w, { state: "warm", only: ["db", "cache", "api"] });
    assert.deepEqual([...runningServices(services, w.state, w.only)].sort(), [
      "api",
      "cache",
      "db",
      "sdk",
    ]);
    assert.deepEqual(
      warmSome(services, "warm", ["db"], ["web"]),
      { state: "warm" },
      "everything: plain warm",
    );
    assert.deepEqual(warmSome(services, "warm", undefined, ["db"]), { state: "warm" });
  });

  it("cool NAME db stops db and what needs it; nothing warm left is cold", () => {
    assert.deepEqual([...downstreamClosure(services, ["db"])].sort(), ["api", "db", "web"]);
    assert.deepEqual(coolSome(services, undefined, ["db"]), {
      state: "warm",
      only: ["cache"],
      stopping: ["db", "api", "web"],
    });
    assert.deepEqual(coolSome(services, ["db", "cache", "api"], ["cache", "db"]), {
      state: "cold",
      stopping: ["db", "cache", "api"],
    });
  });
});

describe("--since and spans", () => {
  it("a duration back from now, or a time; anything else is exit 2", () => {
    const now = Date.parse("2026-12-04T10:00:00Z");
    assert.equal(parseSince("10m", now), now - 600_000);
    assert.equal(parseSince("1h30m", now), now - 5_400_000);
    assert.equal(parseSince("2026-12-04T09:00:00Z", now), now - 3_600_000);
    assert.throws(
      () => parseSince("yesterday", now),
      (e: Error & { exitCode?: number }) => {
        assert.match(e.message, /^--since: must be a duration like "10m"/);
        return true;
      },
    );
  });

  it("formatSpan reads like an uptime", () => {
    assert.deepEqual(
      [850, 12_000, 245_000, 7_800_000, 3 * 86_400_000 + 4 * 3_600_000].map(formatSpan),
      ["850ms", "12s", "4m05s", "2h10m", "3d4h"],
    );
  });
});

describe("daemons as the supervisor reads them", () => {
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "envctl-sup-"));
  const until = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(check());
  };

  it("the shell records the command's exit status; a killed shell records none", async () => {
    const dir = tmp();
    const st = await startDaemon({ name: "x", dir, cwd: dir, cmd: "exit 3", env: {} });
    await until(() => daemonStatus(dir, "x").stale === true);
    await until(() => readExitStatus(dir, "x", st.startedAtMs) === 3);
    assert.equal(readExitStatus(dir, "x", st.startedAtMs + 60_000), undefined, "an older run's");
    const k = await startDaemon({ name: "k", dir, cwd: dir, cmd: "sleep 30", env: {} });
    const comm = (pid: number): string => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      } catch {
        return "";
      }
    };
    await until(() => processGroupMembers(k.pgid)!.some((p) => comm(p) === "sleep"));
    process.kill(k.pid, "SIGKILL");
    await until(() => daemonStatus(dir, "k").stale === true);
    assert.equal(readExitStatus(dir, "k", k.startedAtMs), undefined);
    // keepPidFile: what the killed shell left (its sleep) is stopped, the crash stays recorded.
    assert.equal(await stopDaemon(dir, "k", { keepPidFile: true }), true);
    assert.equal(daemonStatus(dir, "k").stale, true);
    assert.equal(await stopDaemon(dir, "k"), false);
    assert.equal(fs.existsSync(path.join(dir, "k.pid")), false);
  });

  it("stopDaemon marks the pid file stopping while the daemon winds down", async () => {
    const dir = tmp();
    await startDaemon({
      name: "slow",
      dir,
      cwd: dir,
      cmd: "trap 'sleep 0.5; exit 0' TERM; while :; do sleep 0.1; done",
      env: {},
    });
    await new Promise((r) => setTimeout(r, 200));
    const stopping = stopDaemon(dir, "slow");
    await until(() => daemonStatus(dir, "slow").stopping === true);
    assert.equal(await stopping, true);
    assert.deepEqual(daemonStatus(dir, "slow"), { running: false });
  });

  it("unstamp drops envctl-stamp's times", () => {
    assert.equal(
      unstamp("2026-12-04T10:00:00.123456789Z a\n2026-12-04T10:00:01.000000000Z b\nc\n"),
      "a\nb\nc\n",
    );
  });
});

describe("the Supervisor resource's config", () => {
  it("hashes what it runs, so the supervisor's state names the config it read", () => {
    const inputs = {
      env: "t1",
      stateDir: "/h/envs/t1",
      catalogFile: "/h/catalog.db",
      envFile: "/h/envs/t1/env.sh",
      services: [{ name: "api", restart: "always", ports: [], cwd: "/w" }],
      backoff: DEFAULT_BACKOFF,
      logLevel: "info",
      pid: 123,
    };
    const a = supervisorConfig(inputs);
    assert.match(a.hash, /^[0-9a-f]{16}$/);
    assert.equal(supervisorConfig({ ...inputs, pid: 456 }).hash, a.hash, "outputs do not count");
    assert.notEqual(supervisorConfig({ ...inputs, logLevel: "warn" }).hash, a.hash);
    assert.equal("pid" in a, false);
  });
});

describe("the Supervisor, in process, on a real daemon", () => {
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "envctl-supd-"));
  const until = async (what: string, check: () => boolean, ms = 10_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  async function setup(catalogFile: string) {
    const dir = tmp();
    const envFile = path.join(dir, "env.sh");
    fs.writeFileSync(envFile, "");
    const props = {
      name: "s",
      stateDir: dir,
      cwd: dir,
      cmd: "sleep 30",
      vars: {},
      envFile,
      envShHash: "x",
      ports: [],
    };
    fs.writeFileSync(runFilePath(dir, "s"), JSON.stringify(props));
    await startProcess(props);
    const config: SupervisorConfig = {
      env: "t",
      stateDir: dir,
      catalogFile,
      envFile,
      services: [{ name: "s", restart: "on-failure", ports: [], cwd: dir }],
      backoff: { initialMs: 100, maxMs: 400, resetAfterMs: 60_000 },
      logLevel: "info",
      hash: "h",
    };
    const sup = new Supervisor(config, { log: () => {} });
    return { dir, sup };
  }

  it("restarts a killed daemon after its backoff, from its recipe, and records it", async () => {
    const { dir, sup } = await setup(path.join(tmp(), "no-catalog.db"));
    sup.start();
    try {
      const first = daemonStatus(dir, "s").pid!;
      process.kill(first, "SIGKILL");
      await until("restarted", () => {
        const st = daemonStatus(dir, "s");
        return st.running && st.pid !== first && sup.snapshot().services[0]!.phase === "running";
      });
      const snap = sup.snapshot().services[0]!;
      assert.equal(snap.restarts, 1);
      assert.equal(snap.phase, "running");
      const events = fs
        .readFileSync(path.join(dir, "events.ndjson"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { type: string; state?: string; nextRetryMs?: number });
      assert.deepEqual(
        events.filter((e) => e.type === "state").map((e) => e.state),
        ["backoff", "starting", "running"],
      );
      assert.equal(events.find((e) => e.state === "backoff")!.nextRetryMs, 100);
    } finally {
      await sup.stop();
      await stopDaemon(dir, "s");
    }
  });

  it("while a live envctl holds the env's lock it only watches; the crash is handled after", async () => {
    const catalogFile = path.join(tmp(), "catalog.db");
    const db = new Database(catalogFile);
    db.exec(
      "CREATE TABLE env_locks (env TEXT PRIMARY KEY, token TEXT, verb TEXT, pid INTEGER, start_ticks INTEGER, boot_id TEXT, host TEXT, acquired_at_ms INTEGER)",
    );
    const me = processId();
    db.prepare("INSERT INTO env_locks VALUES ('t', 'tok', 'up', ?, ?, ?, ?, 0)").run(
      me.pid,
      me.startTicks ?? null,
      me.bootId ?? null,
      me.host,
    );
    const { dir, sup } = await setup(catalogFile);
    sup.start();
    try {
      const first = daemonStatus(dir, "s").pid!;
      process.kill(first, "SIGKILL");
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(daemonStatus(dir, "s").running, false, "not restarted under the lock");
      db.prepare("DELETE FROM env_locks").run();
      await until("restarted once the lock is gone", () => daemonStatus(dir, "s").running);
    } finally {
      db.close();
      await sup.stop();
      await stopDaemon(dir, "s");
    }
  });
});
