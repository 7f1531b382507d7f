/**
 * Env locks (lib/catalog/locks.ts) and the process checks behind them (lib/runtime/processes.ts),
 * against real processes and a real SQLite file.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { Catalog } from "../../lib/catalog/catalog";
import type { LockHolder } from "../../lib/catalog/locks";
import { engineEnv, projectRoot, userEnv } from "../../lib/core/toolchain";

const ROOT_DIR = projectRoot();
import {
  liveness,
  OPERATION_VAR,
  processesTagged,
  processId,
  readProcStat,
  stopOperation,
} from "../../lib/runtime/processes";

const ROOT = path.resolve(__dirname, "..", "..");
const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill("SIGKILL");
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-locks-"));
  dirs.push(d);
  return d;
}

function holder(over: Partial<LockHolder> = {}): LockHolder {
  return { ...processId(), token: `t-${Math.random()}`, verb: "up", acquiredAtMs: 1, ...over };
}

const dead = (h: LockHolder): boolean => liveness(h) === "dead";

/** A process that ran and exited: its pid and start time name nobody alive. */
function exitedProcess(): LockHolder {
  const r = spawnSync("sh", ["-c", "cat /proc/self/stat"], { encoding: "utf8" });
  const fields = r.stdout.slice(r.stdout.lastIndexOf(")") + 2).split(" ");
  return holder({ pid: Number(r.stdout.split(" ")[0]), startTicks: Number(fields[19]) });
}

describe("process liveness", () => {
  it("this process is alive; an exited one, a recycled pid and a reboot are dead; another host is unknown", () => {
    assert.equal(liveness(processId()), "alive");
    assert.equal(liveness(exitedProcess()), "dead");
    const me = processId();
    assert.equal(liveness({ ...me, startTicks: (me.startTicks ?? 0) + 1 }), "dead", "pid reused");
    assert.equal(liveness({ ...me, bootId: "another-boot" }), "dead");
    assert.equal(liveness({ ...me, host: "some-other-host" }), "unknown");
  });

  it("finds the processes tagged with an operation and stops them, and only them", async () => {
    const tag = `op-${process.pid}-${Date.now()}`;
    const mk = (env: Record<string, string>): ChildProcess => {
      const c = spawn("sleep", ["60"], { env: { ...process.env, ...env }, stdio: "ignore" });
      children.push(c);
      return c;
    };
    const a = mk({ [OPERATION_VAR]: tag });
    const b = mk({ [OPERATION_VAR]: tag, OTHER: "x" });
    const stranger = mk({ [OPERATION_VAR]: `${tag}-other` });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(processesTagged(OPERATION_VAR, tag).sort(), [a.pid, b.pid].sort());
    assert.equal(await stopOperation(tag, 1_000), 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(processesTagged(OPERATION_VAR, tag), []);
    assert.equal(readProcStat(stranger.pid!)?.state !== undefined, true, "the stranger still runs");
  });

  it("the watchdog stops an operation's processes once its envctl is gone, and only then", async () => {
    const tag = `watch-${process.pid}-${Date.now()}`;
    // The "envctl": a process that lives 1.5 s. Its operation: a tagged process.
    const owner = spawn("sleep", ["1.5"], { stdio: "ignore" });
    children.push(owner);
    const engine = spawn("sleep", ["60"], {
      env: { ...process.env, [OPERATION_VAR]: tag },
      stdio: "ignore",
    });
    children.push(engine);
    await new Promise((r) => setTimeout(r, 100));
    const watchdog = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(ROOT, "lib", "runtime", "watchdog.ts"),
        `${owner.pid}:${readProcStat(owner.pid!)!.startTicks}`,
        tag,
      ],
      { stdio: "ignore" },
    );
    children.push(watchdog);
    await new Promise((r) => setTimeout(r, 900));
    assert.deepEqual(
      processesTagged(OPERATION_VAR, tag),
      [engine.pid],
      "untouched while envctl lives",
    );
    const exited = new Promise((r) => watchdog.on("close", r));
    await exited;
    assert.deepEqual(processesTagged(OPERATION_VAR, tag), [], "stopped once envctl was gone");
  });

  it("user processes never get the operation tag", () => {
    const env = userEnv({ PATH: "/bin", [OPERATION_VAR]: "t", KEEP: "1" });
    assert.deepEqual(env, { PATH: "/bin", KEEP: "1" });
  });

  it("the engine's module preload reaches the engine's node, never a user process", () => {
    const root = ROOT_DIR;
    const engine = engineEnv(root);
    assert.match(engine.NODE_OPTIONS ?? "", /--require ".*lazy-deps\.js"/);
    const user = userEnv({
      PATH: "/bin",
      ENVCTL_ROOT: root,
      NODE_OPTIONS: `--max-old-space-size=512 ${engine.NODE_OPTIONS!}`,
    });
    assert.equal(user.NODE_OPTIONS, "--max-old-space-size=512");
    assert.equal(
      userEnv({ PATH: "/bin", ENVCTL_ROOT: root, NODE_OPTIONS: engine.NODE_OPTIONS! }).NODE_OPTIONS,
      undefined,
    );
  });
});

describe("env locks", () => {
  it("one holder at a time; the second is told who holds it; release lets the next in", () => {
    const c = Catalog.open(path.join(tmp(), "catalog.db"));
    try {
      const a = holder({ verb: "warm" });
      const b = holder({ verb: "destroy" });
      assert.deepEqual(c.locks.acquire("e", a, dead), { acquired: true });
      const busy = c.locks.acquire("e", b, dead);
      assert.equal(busy.acquired, false);
      assert.equal(!busy.acquired && busy.holder.token, a.token);
      assert.equal(!busy.acquired && busy.holder.verb, "warm");
      assert.equal(c.locks.acquire("other", b, dead).acquired, true, "locks are per env");
      c.locks.release("e", b.token); // not b's to release
      assert.equal(c.locks.holder("e")?.token, a.token);
      c.locks.release("e", a.token);
      assert.equal(c.locks.acquire("e", b, dead).acquired, true);
    } finally {
      c.close();
    }
  });

  it("a dead holder's lock is taken over and returned for healing; a holder on another host is not", () => {
    const c = Catalog.open(path.join(tmp(), "catalog.db"));
    try {
      const gone = exitedProcess();
      c.locks.acquire("e", gone, dead);
      const me = holder();
      const res = c.locks.acquire("e", me, dead);
      assert.equal(res.acquired && res.tookOver?.token, gone.token);
      c.locks.release("e", gone.token); // the dead holder's late release must not drop ours
      assert.equal(c.locks.holder("e")?.token, me.token);

      const remote = holder({ host: "elsewhere" });
      c.locks.acquire("r", remote, dead);
      assert.equal(c.locks.acquire("r", holder(), dead).acquired, false);
    } finally {
      c.close();
    }
  });

  it("six processes taking one env's lock at once: exactly one gets it", async () => {
    const file = path.join(tmp(), "catalog.db");
    Catalog.open(file).close();
    const script = `
      require(${JSON.stringify(path.join(ROOT, "node_modules", "tsx", "dist", "cjs", "index.cjs"))});
      const { Catalog } = require(${JSON.stringify(path.join(ROOT, "lib", "catalog", "catalog.ts"))});
      const { processId } = require(${JSON.stringify(path.join(ROOT, "lib", "runtime", "processes.ts"))});
      const c = Catalog.open(process.argv[1]);
      const me = { ...processId(), token: String(process.pid), verb: "up", acquiredAtMs: Date.now() };
      const res = c.locks.acquire("e", me, () => false);
      process.stdout.write(res.acquired ? "won" : "busy");
      setTimeout(() => {}, 1500); // stay alive while the others try`;
    const runs = Array.from(
      { length: 6 },
      () =>
        new Promise<string>((resolve) => {
          const p = spawn(process.execPath, ["-e", script, file], {
            stdio: ["ignore", "pipe", "inherit"],
          });
          let out = "";
          p.stdout.on("data", (d: Buffer) => (out += d.toString()));
          p.on("close", () => resolve(out));
        }),
    );
    const results = await Promise.all(runs);
    assert.equal(results.filter((r) => r === "won").length, 1, results.join(","));
    assert.equal(results.filter((r) => r === "busy").length, 5);
  });
});
