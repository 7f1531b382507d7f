/**
 * Who is alive on this host, read from Linux /proc: a process is named by its pid plus the
 * kernel's start time (so a recycled pid is never mistaken for it), zombies count as gone, and
 * the processes one envctl operation started (the Pulumi CLI, language host, program, provider
 * plugins) are found by the operation tag they inherit in their environment. Off Linux the
 * checks degrade to `kill(pid, 0)` and the tag scan finds nothing.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * The variable every process of one envctl operation inherits: `<token>`. Daemons and init
 * steps never get it (lib/core/toolchain.ts userEnv), so only the engine's processes carry it.
 */
export const OPERATION_VAR = "ENVCTL_OPERATION";

/** A process as other processes can name it. */
export interface ProcessId {
  pid: number;
  /** /proc/<pid>/stat field 22 (clock ticks since boot); absent off Linux. */
  startTicks?: number;
  /** /proc/sys/kernel/random/boot_id: start ticks only mean something within one boot. */
  bootId?: string;
  host: string;
}

/** Fields of /proc/<pid>/stat, or undefined when it can't be read (gone, or not Linux). */
export function readProcStat(
  pid: number,
): { state: string; ppid: number; pgrp: number; startTicks: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm (field 2) is parenthesised and may contain spaces or parens: split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgrp = Number(fields[2]);
  const startTicks = Number(fields[19]);
  if (state === undefined || !Number.isFinite(pgrp) || !Number.isFinite(startTicks)) {
    return undefined;
  }
  return { state, ppid, pgrp, startTicks };
}

export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

let bootIdCache: string | undefined | null = null;
function bootId(): string | undefined {
  if (bootIdCache === null) {
    try {
      bootIdCache = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
    } catch {
      bootIdCache = undefined;
    }
  }
  return bootIdCache;
}

/** This process (or `pid` on this host) as a ProcessId. */
export function processId(pid: number = process.pid): ProcessId {
  const id: ProcessId = { pid, host: os.hostname() };
  const ticks = readProcStat(pid)?.startTicks;
  if (ticks !== undefined) id.startTicks = ticks;
  const boot = bootId();
  if (boot) id.bootId = boot;
  return id;
}

/**
 * Whether the process still runs: `unknown` when it is on another host (or another boot's
 * record cannot be compared), else `alive` or `dead` (gone, a zombie, or its pid reused).
 */
export function liveness(id: ProcessId): "alive" | "dead" | "unknown" {
  if (id.host !== os.hostname()) return "unknown";
  const boot = bootId();
  if (id.bootId && boot && id.bootId !== boot) return "dead"; // the machine restarted since
  if (!pidExists(id.pid)) return "dead";
  const stat = readProcStat(id.pid);
  if (!stat) return fs.existsSync("/proc/self/stat") ? "dead" : "alive"; // no /proc: kill(0) only
  if (stat.state === "Z") return "dead"; // exited, waiting to be reaped
  if (id.startTicks !== undefined && stat.startTicks !== id.startTicks) return "dead";
  return "alive";
}

/** `<pid>:<startTicks>` of this process, as the watchdog is told its owner. */
export function ownerValue(): string {
  const id = processId();
  return `${id.pid}:${id.startTicks ?? ""}`;
}

/** Parses ownerValue() back; undefined when malformed. */
export function parseOwner(value: string | undefined): ProcessId | undefined {
  const m = /^(\d+):(\d*)$/.exec(value ?? "");
  if (!m) return undefined;
  const id: ProcessId = { pid: Number(m[1]), host: os.hostname() };
  if (m[2]) id.startTicks = Number(m[2]);
  return id;
}

/** Live (non-zombie) processes whose environment holds `name=value`, read from /proc. */
export function processesTagged(name: string, value: string): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return [];
  }
  const needle = Buffer.from(`\0${name}=${value}\0`);
  const first = Buffer.from(`${name}=${value}\0`);
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: Buffer;
    try {
      environ = fs.readFileSync(`/proc/${entry}/environ`);
    } catch {
      continue; // gone, or not ours to read
    }
    const tagged = environ.includes(needle) || environ.subarray(0, first.length).equals(first);
    if (!tagged) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.state !== "Z") found.push(Number(entry));
  }
  return found;
}

/**
 * Stops every live process tagged with the operation `token` (except this one): SIGTERM, then
 * SIGKILL for whatever is left after `graceMs`. Returns how many there were.
 */
export async function stopOperation(token: string, graceMs = 3_000): Promise<number> {
  const pids = processesTagged(OPERATION_VAR, token).filter((p) => p !== process.pid);
  signalAll(pids, "SIGTERM");
  const until = Date.now() + graceMs;
  let left = pids;
  while (left.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    left = left.filter((p) => stillRunning(p));
  }
  signalAll(left, "SIGKILL");
  const killedBy = Date.now() + 3_000;
  while (left.some(stillRunning) && Date.now() < killedBy) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return pids.length;
}

function stillRunning(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat ? stat.state !== "Z" : pidExists(pid) && !fs.existsSync("/proc/self/stat");
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

/**
 * The watchdog of one operation: a small detached process (its own session, so a kill of
 * envctl's process group or terminal does not reach it) that polls envctl's liveness and, once
 * envctl is gone, stops every process of the operation instead of letting them work on for
 * nobody (building images, creating containers no state will record). The next verb on the env
 * heals its lock and pending operations. Returns a stop for when the operation ends normally.
 */
export function startWatchdog(token: string): () => void {
  const script = path.join(__dirname, "watchdog.js");
  if (!fs.existsSync(script)) return () => undefined; // run from sources (tests): no watchdog
  const child = spawn(process.execPath, [script, ownerValue(), token], {
    detached: true,
    stdio: "ignore",
    env: { PATH: process.env.PATH ?? "" },
  });
  child.on("error", () => undefined);
  child.unref();
  return () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // gone already
    }
  };
}

/** The watchdog's loop (lib/runtime/watchdog.ts runs it): returns once the owner is gone and its operation stopped. */
export async function watch(owner: ProcessId, token: string, intervalMs = 500): Promise<void> {
  while (liveness(owner) !== "dead") await new Promise((r) => setTimeout(r, intervalMs));
  await stopOperation(token, 1_000);
}
