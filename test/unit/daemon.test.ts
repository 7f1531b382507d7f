import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import {
  daemonStatus,
  processGroupMembers,
  startDaemon,
  stopDaemon,
  tailLog,
  truncateLogIfLarge,
  unstamp,
  type DaemonSpec,
} from "../../lib/runtime/daemon";
import { probeHttp, waitUntil } from "../../lib/runtime/probes";

const tmpDirs: string[] = [];
const pgids = new Set<number>();

after(() => {
  for (const pgid of pgids) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-daemon-"));
  tmpDirs.push(dir);
  return dir;
}

function spec(dir: string, name: string, cmd: string, extra: Partial<DaemonSpec> = {}): DaemonSpec {
  return { name, dir: path.join(dir, "envs", "e1"), cwd: dir, cmd, env: {}, ...extra };
}

async function start(s: DaemonSpec): ReturnType<typeof startDaemon> {
  const state = await startDaemon(s);
  pgids.add(state.pgid);
  return state;
}

const poll = { intervalMs: 20, timeoutMs: 0, retries: 1, startPeriodMs: 5_000 };

async function until(check: () => boolean): Promise<void> {
  await waitUntil(async () => check(), poll);
}

function members(pgid: number): number[] {
  const m = processGroupMembers(pgid);
  assert.ok(m, "these tests need Linux /proc");
  return m;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      server.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

describe("startDaemon / stopDaemon", () => {
  it("outlives the short-lived process that started it", async () => {
    const dir = tmpDir();
    const port = await freePort();
    const server = `require('http').createServer((q, r) => r.end('ok')).listen(${port}, '127.0.0.1')`;
    const s = spec(dir, "web", `exec node -e "${server}"`);
    const lib = path.resolve(__dirname, "../../lib/runtime/daemon.ts");
    const starter = `require(${JSON.stringify(lib)}).startDaemon(${JSON.stringify(s)}).then((st) => console.log(JSON.stringify(st)))`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "-e", starter], {
      encoding: "utf8",
      timeout: 20_000,
    });
    const state = JSON.parse(out) as { pid: number; pgid: number; pidFile: string };
    pgids.add(state.pgid);
    // The starter has exited (execFileSync returned) and the daemon still serves.
    await waitUntil(async () => probeHttp(`http://127.0.0.1:${port}/`, 500), poll);
    assert.deepEqual(daemonStatus(s.dir, "web"), {
      running: true,
      pid: state.pid,
      startedAtMs: (JSON.parse(fs.readFileSync(state.pidFile, "utf8")) as { startedAtMs: number })
        .startedAtMs,
    });
    assert.equal(state.pgid, state.pid);
    const record = JSON.parse(fs.readFileSync(state.pidFile, "utf8")) as Record<string, unknown>;
    assert.equal(record.pid, state.pid);
    assert.equal(record.cmd, s.cmd);
    assert.equal(typeof record.startTicks, "number");

    assert.equal(await stopDaemon(s.dir, "web"), true);
    assert.equal(fs.existsSync(state.pidFile), false);
    assert.deepEqual(daemonStatus(s.dir, "web"), { running: false });
    assert.equal((await probeHttp(`http://127.0.0.1:${port}/`, 500)).ok, false);
  });

  it("kills every member of the process group", async () => {
    const dir = tmpDir();
    const s = spec(dir, "kids", "sleep 1000 & sleep 1000 & wait");
    const state = await start(s);
    await until(() => members(state.pgid).length >= 3); // sh and both sleeps
    assert.equal(await stopDaemon(s.dir, "kids", { graceMs: 2_000 }), true);
    assert.deepEqual(members(state.pgid), []);
  });

  it("passes FORCE_COLOR, spec env and envFile exports to the command", async () => {
    const dir = tmpDir();
    const envFile = path.join(dir, "env.sh");
    fs.writeFileSync(envFile, "export FROM_FILE=file-value\n");
    const s = spec(dir, "env", `echo "fc=$FORCE_COLOR a=$FROM_SPEC b=$FROM_FILE pwd=$(pwd)"`, {
      env: { FROM_SPEC: "spec-value", FORCE_COLOR: "0" },
      envFile,
    });
    const state = await start(s);
    await until(() => tailLog(state.logFile, 1).includes("fc="));
    // Each line is stamped with its time on the way in (envctl-stamp, built by scripts/setup).
    assert.match(tailLog(state.logFile, 1), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z fc=/);
    assert.equal(
      unstamp(tailLog(state.logFile, 1)),
      `fc=1 a=spec-value b=file-value pwd=${fs.realpathSync(dir)}\n`,
    );
    await until(() => daemonStatus(s.dir, "env").stale === true); // echo exits
    assert.equal(await stopDaemon(s.dir, "env"), false);
  });

  it("is idempotent while the daemon lives", async () => {
    const dir = tmpDir();
    const s = spec(dir, "twice", "sleep 1000");
    const first = await start(s);
    const second = await start(s);
    assert.equal(second.pid, first.pid);
    assert.equal(second.startedAtMs, first.startedAtMs);
    assert.equal(await stopDaemon(s.dir, "twice"), true);
    const third = await start(s);
    assert.notEqual(third.pid, first.pid);
    assert.equal(await stopDaemon(s.dir, "twice"), true);
  });

  it("reports stale after the group is killed behind its back", async () => {
    const dir = tmpDir();
    const s = spec(dir, "crash", "sleep 1000");
    const state = await start(s);
    assert.equal(daemonStatus(s.dir, "crash").running, true);
    process.kill(-state.pgid, "SIGKILL");
    await until(() => daemonStatus(s.dir, "crash").stale === true);
    assert.deepEqual(daemonStatus(s.dir, "crash"), {
      running: false,
      pid: state.pid,
      stale: true,
      startedAtMs: state.startedAtMs,
    });
    assert.equal(await stopDaemon(s.dir, "crash"), false);
    assert.equal(fs.existsSync(state.pidFile), false);
  });

  it("does not mistake a recycled pid for the daemon", async () => {
    const dir = tmpDir();
    const s = spec(dir, "recycled", "sleep 1000");
    const state = await start(s);
    // Pretend the recorded process started at another time: the live pid is then a stranger.
    const record = JSON.parse(fs.readFileSync(state.pidFile, "utf8")) as { startTicks: number };
    fs.writeFileSync(
      state.pidFile,
      JSON.stringify({ ...record, startTicks: record.startTicks + 1 }),
    );
    assert.deepEqual(daemonStatus(s.dir, "recycled"), {
      running: false,
      pid: state.pid,
      stale: true,
      startedAtMs: state.startedAtMs,
    });
    assert.equal(await stopDaemon(s.dir, "recycled", { graceMs: 100 }), false);
    assert.ok(members(state.pgid).includes(state.pid), "the stranger must not be signalled");
    process.kill(-state.pgid, "SIGKILL");
  });

  it("falls back to SIGKILL when TERM is ignored", async () => {
    const dir = tmpDir();
    const s = spec(dir, "stubborn", "trap '' TERM; sleep 1000 & wait");
    const state = await start(s);
    await until(() => members(state.pgid).length >= 2); // trap is set before sleep starts
    const graceMs = 300;
    const t0 = Date.now();
    assert.equal(await stopDaemon(s.dir, "stubborn", { graceMs }), true);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= graceMs, `stopped after ${elapsed}ms, before the grace period`);
    assert.ok(elapsed < graceMs + 2_000, `took ${elapsed}ms`);
    assert.deepEqual(members(state.pgid), []);
  });

  it("returns false for a missing pid file", async () => {
    const dir = tmpDir();
    assert.equal(await stopDaemon(dir, "nothing"), false);
    assert.deepEqual(daemonStatus(dir, "nothing"), { running: false });
  });

  it("rejects when the working directory does not exist", async () => {
    const dir = tmpDir();
    await assert.rejects(start(spec(dir, "bad", "true", { cwd: path.join(dir, "missing") })));
  });
});

describe("logs", () => {
  const lines = (n: number): string =>
    Array.from({ length: n }, (_, i) => `line ${i + 1}`).join("\n") + "\n";

  it("truncateLogIfLarge keeps the tail behind a marker", () => {
    const log = path.join(tmpDir(), "big.log");
    fs.writeFileSync(log, lines(1_000));
    const before = fs.statSync(log).size;
    assert.equal(truncateLogIfLarge(log, before), false);
    assert.equal(truncateLogIfLarge(log, 2_000), true);
    const text = fs.readFileSync(log, "utf8");
    assert.match(text, /^--- envctl: log truncated at \S+ \(was \d+ bytes\) ---\n/);
    assert.ok(text.endsWith("line 999\nline 1000\n"));
    assert.ok(fs.statSync(log).size <= 2_000);
    // Only whole lines survive: the line after the marker is one of the originals.
    const firstKept = text.split("\n")[1] ?? "";
    assert.match(firstKept, /^line \d+$/);
    assert.equal(truncateLogIfLarge(path.join(tmpDir(), "missing.log"), 10), false);
  });

  it("tailLog returns the last N lines", () => {
    const log = path.join(tmpDir(), "tail.log");
    fs.writeFileSync(log, lines(100_000)); // several read chunks
    assert.equal(tailLog(log, 3), "line 99998\nline 99999\nline 100000\n");
    assert.equal(tailLog(log, 0), "");
    fs.writeFileSync(log, "a\nb\nc");
    assert.equal(tailLog(log, 2), "b\nc");
    assert.equal(tailLog(log, 10), "a\nb\nc");
    assert.equal(tailLog(path.join(tmpDir(), "missing.log"), 5), "");
    const big = lines(20_000);
    fs.writeFileSync(log, big);
    assert.equal(tailLog(log, 20_000), big);
  });
});
