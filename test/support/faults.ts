/**
 * The fault harness: leak counters asked of Docker, git, the catalog, the state directory and
 * /proc; a CLI run that can be killed (the whole process group, SIGKILL) at a point in its
 * output; and concurrency pairs. test/e2e/faults.test.ts runs it at CI size, bench/faults.ts at
 * any size, printing the counts.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { childEnv, type Run } from "./cli";
import { branches, ROOT, worktreeDirs } from "./env";

const BIN = path.join(ROOT, "bin", "envctl");

export const LEAK_KINDS = [
  "containers",
  "volumes",
  "networks",
  "images",
  "worktrees",
  "branches",
  "catalog rows",
  "leases",
  "locks",
  "daemons",
  "engine processes",
  "state files",
] as const;
export type LeakKind = (typeof LEAK_KINDS)[number];
export type Leaks = Record<LeakKind, string[]>;

function lines(cmd: string, args: string[]): string[] {
  return execFileSync(cmd, args, { encoding: "utf8" })
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

function catalogRows(home: string, sql: string): string[] {
  const file = path.join(home, "catalog.db");
  if (!fs.existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).all() as { v: string }[]).map((r) => r.v);
  } catch {
    return [];
  } finally {
    db.close();
  }
}

/** Processes whose environment names this home, split into the engine's and the user's. */
function homeProcesses(home: string): { engine: string[]; daemons: string[] } {
  const engine: string[] = [];
  const daemons: string[] = [];
  const tag = Buffer.from(`ENVCTL_HOME=${home}\0`);
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: Buffer;
    let stat: string;
    try {
      environ = fs.readFileSync(`/proc/${entry}/environ`);
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    if (!environ.includes(tag)) continue;
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
    const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    (environ.includes(Buffer.from("ENVCTL_OPERATION=")) ? engine : daemons).push(
      `${entry} ${cmd.slice(0, 120)}`,
    );
  }
  return { engine, daemons };
}

/** Files under `dir` (relative), for the state-files counter. */
function filesIn(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => fs.statSync(path.join(dir, f), { throwIfNoEntry: false })?.isFile());
}

/**
 * Everything the envs `names` still hold, asked of each system itself. After a destroy every
 * list is empty; `baseline` branches and worktrees (the repo's own) are not counted.
 */
export function leaks(home: string, repo: string, names: string[]): Leaks {
  const out = Object.fromEntries(LEAK_KINDS.map((k) => [k, [] as string[]])) as Leaks;
  const mine = (s: string): boolean => names.some((n) => s === n || s.includes(n));
  for (const name of names) {
    const f = `label=envctl.env=${name}`;
    out.containers.push(...lines("docker", ["ps", "-aq", "--filter", f]));
    out.volumes.push(...lines("docker", ["volume", "ls", "-q", "--filter", f]));
    out.networks.push(...lines("docker", ["network", "ls", "-q", "--filter", f]));
    out.images.push(...lines("docker", ["images", "-aq", "--filter", f]));
  }
  out.worktrees = worktreeDirs(repo).filter((d) => d !== fs.realpathSync(repo) && mine(d));
  out.branches = branches(repo).filter(mine);
  out["catalog rows"] = catalogRows(home, "SELECT name AS v FROM envs").filter(mine);
  out.leases = catalogRows(home, "SELECT env AS v FROM port_leases").filter(mine);
  out.locks = catalogRows(home, "SELECT env AS v FROM env_locks").filter(mine);
  const procs = homeProcesses(home);
  out.daemons = procs.daemons;
  out["engine processes"] = procs.engine;
  const state = [
    ...filesIn(path.join(home, "state", ".pulumi")).map((f) => `state/.pulumi/${f}`),
    ...filesIn(path.join(home, "envs")).map((f) => `envs/${f}`),
    ...filesIn(path.join(home, "worktrees")).map((f) => `worktrees/${f}`),
    ...filesIn(path.join(home, "project"))
      .filter((f) => /^Pulumi\..+\.yaml$/.test(f))
      .map((f) => `project/${f}`),
  ];
  out["state files"] = state.filter(mine);
  return out;
}

export function leakCount(l: Leaks): number {
  return LEAK_KINDS.reduce((n, k) => n + l[k].length, 0);
}

/** `containers: 1 (abc), daemons: 2 (...)` for what is not empty. */
export function describeLeaks(l: Leaks): string {
  const parts = LEAK_KINDS.filter((k) => l[k].length > 0).map(
    (k) => `${k}: ${l[k].length} (${l[k].slice(0, 3).join("; ")})`,
  );
  return parts.length ? parts.join(", ") : "none";
}

export interface Started {
  child: ChildProcess;
  /** Resolves when the run ends, with what it printed. */
  done: Promise<Run>;
  /** Resolves once stdout+stderr matched `re` (rejects if the run ends first). */
  saw(re: RegExp): Promise<void>;
  /** SIGKILL of the whole process group, as a closed terminal or an OOM kill would. */
  killGroup(): void;
}

/** The CLI in its own process group, so a kill reaches everything it started that stays in it. */
export function start(args: string[], o: { home: string; cwd: string }): Started {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: o.cwd,
    env: childEnv(o.home),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  const waiters: { re: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = (): void => {
    for (const w of waiters.splice(0)) {
      if (w.re.test(stdout + stderr)) w.resolve();
      else waiters.push(w);
    }
  };
  child.stdout.setEncoding("utf8").on("data", (d: string) => ((stdout += d), check()));
  child.stderr.setEncoding("utf8").on("data", (d: string) => ((stderr += d), check()));
  const done = new Promise<Run>((resolve) =>
    child.on("close", (code, signal) => {
      for (const w of waiters.splice(0)) {
        w.reject(new Error(`ended before ${w.re}: ${signal ?? code}\n${stderr}`));
      }
      resolve({ code: code ?? (signal ? 128 + 9 : null), stdout, stderr });
    }),
  );
  return {
    child,
    done,
    saw(re) {
      return new Promise((resolve, reject) => {
        waiters.push({ re, resolve, reject });
        check();
      });
    },
    killGroup() {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone already
      }
    },
  };
}

/** Waits until no engine process of this home runs (the watchdog stops them within seconds). */
export async function engineSettled(home: string, withinMs = 15_000): Promise<string[]> {
  const until = Date.now() + withinMs;
  for (;;) {
    const left = homeProcesses(home).engine;
    if (left.length === 0 || Date.now() > until) return left;
    await new Promise((r) => setTimeout(r, 200));
  }
}
