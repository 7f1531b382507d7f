/**
 * Host daemons: long-running commands (dev servers, watchers) started in their own session and
 * process group, outliving the envctl process that started them. Each has `<dir>/<name>.pid`
 * (JSON) and `<dir>/<name>.log` (stdout and stderr, appended). Liveness checks compare the
 * kernel's start time of the pid with the one recorded, so a recycled pid is never mistaken
 * for the daemon. The start-time and process-group scans read Linux /proc; elsewhere they
 * degrade to `kill(pid, 0)`.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { writeAtomic } from "../core/atomic";
import { shellQuote, sourceThen } from "../core/shell";
import { toolchainRoot, userEnv } from "../core/toolchain";
import { HealthTimeoutError, waitUntil } from "./probes";
import { pidExists, readProcStat } from "./processes";

export interface DaemonSpec {
  /** Service name; names the pid and log files. */
  name: string;
  /** Absolute per-env directory holding the pid and log files (created if missing). */
  dir: string;
  /** Working directory of the command. */
  cwd: string;
  /** Shell command, run with `/bin/sh -c`. */
  cmd: string;
  /**
   * Merged over the user's environment and kept over what envFile exports, so a service's own
   * variables (its PORT among them) beat env-wide ones; FORCE_COLOR=1 is always set so logs
   * keep their colours.
   */
  env: Record<string, string>;
  /** A shell file (env.sh) sourced before the command; the daemon fails if it cannot be read. */
  envFile?: string;
  /**
   * Run `cmd` as it is: no exit status recorded, no time stamps (envctl's own daemons, which
   * `exec` node and stamp their own lines, so the pid file names node itself).
   */
  plain?: boolean;
}

/** envctl-stamp (scripts/toolchain/stamp), built by scripts/setup; undefined when missing. */
export function stamperPath(): string | undefined {
  const p = path.join(toolchainRoot(), "bin", "envctl-stamp");
  return fs.existsSync(p) ? p : undefined;
}

export interface DaemonState {
  pid: number;
  /** Equal to pid: the daemon leads its own process group. */
  pgid: number;
  startedAtMs: number;
  logFile: string;
  pidFile: string;
}

/** What the pid file holds. */
interface PidRecord {
  pid: number;
  pgid: number;
  startedAtMs: number;
  cmd: string;
  /** /proc/<pid>/stat field 22 (clock ticks since boot); absent where /proc is not available. */
  startTicks?: number;
  /** The pid of the stopDaemon stopping it: its exit is no crash (the supervisor leaves it alone). */
  stopping?: number;
}

const DEFAULT_GRACE_MS = 5_000;
const POLL_MS = 50;
/** How long to wait for the group to vanish after SIGKILL before giving up. */
const KILL_WAIT_MS = 3_000;
const DEFAULT_MAX_LOG_BYTES = 100 * 1024 * 1024;
const KEEP_LOG_BYTES = 1024 * 1024;

export function pidFilePath(dir: string, name: string): string {
  return path.join(dir, `${name}.pid`);
}

/**
 * The first-warm init steps' output, in the env's state dir beside the daemons' `<service>.log`
 * files. Service names have no dots, so no service's log can be this file.
 */
export const INIT_LOG = "init.steps.log";

export function logFilePath(dir: string, name: string): string {
  return path.join(dir, `${name}.log`);
}

/** Where the daemon's shell writes the command's exit status when it returns. */
export function exitFilePath(dir: string, name: string): string {
  return path.join(dir, `${name}.exit`);
}

/**
 * The exit status the daemon's shell recorded, when it ran after `sinceMs` (the run's start);
 * undefined while it runs, or when the shell itself was killed.
 */
export function readExitStatus(dir: string, name: string, sinceMs: number): number | undefined {
  const file = exitFilePath(dir, name);
  try {
    if (fs.statSync(file).mtimeMs + 1000 < sinceMs) return undefined; // an older run's
    const n = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts `spec.cmd` detached (new session, so its own process group) with output appended to
 * the log, writes the pid file and unrefs the child so the caller can exit. If the pid file
 * names a live daemon, returns its state without starting another.
 */
export async function startDaemon(spec: DaemonSpec): Promise<DaemonState> {
  fs.mkdirSync(spec.dir, { recursive: true, mode: 0o700 });
  const release = await startLock(spec.dir, spec.name);
  try {
    return await startUnlocked(spec);
  } finally {
    release();
  }
}

const START_LOCK_STALE_MS = 10_000;

/**
 * One starter at a time per daemon (the CLI's Process resource, the env's supervisor): the
 * look at the pid file, the spawn and the pid file's write happen under `<name>.start.lock`
 * (O_EXCL), so two starters never both spawn. A lock whose holder died, or older than 10 s, is
 * taken over.
 */
async function startLock(dir: string, name: string): Promise<() => void> {
  const lock = path.join(dir, `${name}.start.lock`);
  for (let i = 0; ; i++) {
    try {
      const fd = fs.openSync(lock, "wx", 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => fs.rmSync(lock, { force: true });
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
    }
    let holder = NaN;
    let age = 0;
    try {
      holder = Number(fs.readFileSync(lock, "utf8"));
      age = Date.now() - fs.statSync(lock).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if ((Number.isInteger(holder) && !pidExists(holder)) || age > START_LOCK_STALE_MS) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function startUnlocked(spec: DaemonSpec): Promise<DaemonState> {
  const pidFile = pidFilePath(spec.dir, spec.name);
  const logFile = logFilePath(spec.dir, spec.name);
  const existing = readPidFile(pidFile);
  if (
    existing &&
    isAlive(existing) &&
    readExitStatus(spec.dir, spec.name, existing.startedAtMs) === undefined
  ) {
    return {
      pid: existing.pid,
      pgid: existing.pgid,
      startedAtMs: existing.startedAtMs,
      logFile,
      pidFile,
    };
  }

  fs.mkdirSync(spec.dir, { recursive: true, mode: 0o700 });
  // The shell sources the env file itself so that its exports reach the command exactly as
  // they would in an interactive `source env.sh`; `|| exit` because dash keeps going otherwise.
  // It records the command's exit status, which tells the supervisor a clean exit from a crash.
  const exitFile = exitFilePath(spec.dir, spec.name);
  fs.rmSync(exitFile, { force: true });
  // In a subshell of its own, so that an `exit` in the command still leaves the status.
  const body = `(\n${
    spec.envFile ? sourceThen(spec.envFile, spec.cmd, Object.keys(spec.env)) : spec.cmd
  }\n)\n__envctl_status=$?\necho "$__envctl_status" > ${shellQuote(exitFile)}\nexit "$__envctl_status"`;
  // Each line of output is stamped with its time on the way into the log (envctl-stamp), so
  // logs can be merged by time and read --since; without the stamper, straight to the file.
  const stamper = stamperPath();
  const script = spec.plain
    ? spec.cmd
    : stamper
      ? `{\n${body}\n} 2>&1 | ${shellQuote(stamper)}`
      : body;
  const logFd = fs.openSync(logFile, "a", 0o600);
  let pid: number;
  try {
    const child = spawn("/bin/sh", ["-c", script], {
      cwd: spec.cwd,
      env: { ...userEnv(), ...spec.env, FORCE_COLOR: "1" },
      detached: true,
      stdio: ["ignore", logFd, logFd],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject); // bad cwd, missing /bin/sh
    });
    if (child.pid === undefined) throw new Error(`failed to start ${spec.name}: no pid`);
    pid = child.pid;
    child.unref();
  } finally {
    fs.closeSync(logFd); // the child holds its own copy
  }

  const record: PidRecord = { pid, pgid: pid, startedAtMs: Date.now(), cmd: spec.cmd };
  const ticks = readProcStat(pid)?.startTicks;
  if (ticks !== undefined) record.startTicks = ticks;
  writePidFile(pidFile, record);
  return { pid, pgid: pid, startedAtMs: record.startedAtMs, logFile, pidFile };
}

/**
 * SIGTERMs the daemon's process group, SIGKILLs it if anything is left after `graceMs`, and
 * removes the pid file. Returns whether anything was running (false for a missing pid file).
 * `keepPidFile` stops what is left of a crashed daemon (its children) but keeps the record of
 * the crash: the pid file stays, naming a process that is gone.
 */
export async function stopDaemon(
  dir: string,
  name: string,
  opts: {
    graceMs?: number;
    keepPidFile?: boolean;
    /** Only the daemon of this pid: one someone else started meanwhile is left alone. */
    onlyPid?: number;
  } = {},
): Promise<boolean> {
  const pidFile = pidFilePath(dir, name);
  const record = readPidFile(pidFile);
  if (opts.onlyPid !== undefined && record?.pid !== opts.onlyPid) return false;
  if (!record) {
    fs.rmSync(pidFile, { force: true }); // an unreadable pid file is as good as none
    return false;
  }
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const running = ownsGroup(record) && groupAlive(record.pgid);
  if (running) {
    if (!opts.keepPidFile) writePidFile(pidFile, { ...record, stopping: process.pid });
    signalGroup(record.pgid, "SIGTERM");
    const gone = await waitForGroupExit(record.pgid, graceMs);
    if (!gone) {
      signalGroup(record.pgid, "SIGKILL");
      if (!(await waitForGroupExit(record.pgid, KILL_WAIT_MS))) {
        throw new Error(`${name}: process group ${record.pgid} survived SIGKILL`);
      }
    }
  }
  if (!opts.keepPidFile) fs.rmSync(pidFile, { force: true });
  return running;
}

export interface DaemonStatus {
  running: boolean;
  pid?: number;
  /** The pid file exists but its process is gone (crashed or killed). */
  stale?: boolean;
  /** When the running (or last) process started. */
  startedAtMs?: number;
  /** stopDaemon is stopping it. */
  stopping?: boolean;
}

export function daemonStatus(dir: string, name: string): DaemonStatus {
  const pidFile = pidFilePath(dir, name);
  if (!fs.existsSync(pidFile)) return { running: false };
  const record = readPidFile(pidFile);
  if (!record) return { running: false, stale: true };
  // A stop whose envctl died half way is over: the mark no longer holds anyone off.
  const extra = {
    startedAtMs: record.startedAtMs,
    ...(record.stopping !== undefined && pidExists(record.stopping) ? { stopping: true } : {}),
  };
  // The command returned (its status is recorded) even if something it started still holds
  // the output pipe open and so keeps the shell waiting: that is an exit too.
  if (isAlive(record) && readExitStatus(dir, name, record.startedAtMs) === undefined) {
    return { running: true, pid: record.pid, ...extra };
  }
  return { running: false, pid: record.pid, stale: true, ...extra };
}

/**
 * When the log passes `maxBytes`, rewrites it in place as a marker line plus its last ~1 MB
 * (at most half of maxBytes, from a line start). In place, not renamed: the daemon appends
 * through an O_APPEND descriptor, so its next write lands at the new end. Lines the daemon
 * writes between the read and the rewrite are lost.
 */
export function truncateLogIfLarge(logFile: string, maxBytes = DEFAULT_MAX_LOG_BYTES): boolean {
  let size: number;
  try {
    size = fs.statSync(logFile).size;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return false;
    throw err;
  }
  if (size <= maxBytes) return false;
  const keep = Math.min(KEEP_LOG_BYTES, Math.floor(maxBytes / 2));
  const fd = fs.openSync(logFile, "r+");
  try {
    let tail = readRange(fd, size - keep, keep);
    const newline = tail.indexOf(0x0a);
    if (newline >= 0 && newline < tail.length - 1) tail = tail.subarray(newline + 1);
    const marker = `--- envctl: log truncated at ${new Date().toISOString()} (was ${size} bytes) ---\n`;
    fs.ftruncateSync(fd, 0);
    const out = Buffer.concat([Buffer.from(marker), tail]);
    fs.writeSync(fd, out, 0, out.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

const STAMP_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z /gm;

/** Log text without envctl-stamp's time prefixes (for messages that quote a log). */
export function unstamp(text: string): string {
  return text.replace(STAMP_RE, "");
}

/** The last `lines` lines of the log, like `tail -n`; "" when the file is missing. */
export function tailLog(logFile: string, lines: number): string {
  if (lines <= 0) return "";
  let fd: number;
  try {
    fd = fs.openSync(logFile, "r");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return "";
    throw err;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const chunk = 64 * 1024;
    let start = size;
    let buf = Buffer.alloc(0);
    // Read backwards until the buffer holds lines+1 newlines (the extra one ends the line
    // before the first wanted; a trailing newline does not start a line).
    for (;;) {
      const trailing = buf.length > 0 && buf[buf.length - 1] === 0x0a ? 1 : 0;
      if (start === 0 || countNewlines(buf) - trailing >= lines) break;
      const from = Math.max(0, start - chunk);
      buf = Buffer.concat([readRange(fd, from, start - from), buf]);
      start = from;
    }
    const text = buf.toString("utf8");
    const body = text.endsWith("\n") ? text.slice(0, -1) : text;
    const all = body.split("\n");
    const wanted = all.slice(Math.max(0, all.length - lines)).join("\n");
    return text.endsWith("\n") ? `${wanted}\n` : wanted;
  } finally {
    fs.closeSync(fd);
  }
}

/** pids of the live (non-zombie) members of a process group, from /proc; undefined off Linux. */
export function processGroupMembers(pgid: number): number[] | undefined {
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return undefined;
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== "Z") members.push(Number(entry));
  }
  return members;
}

function isAlive(record: PidRecord): boolean {
  if (!pidExists(record.pid)) return false;
  const stat = readProcStat(record.pid);
  if (!stat) return !fs.existsSync("/proc/self/stat"); // no /proc: kill(0) is all we have
  if (stat.state === "Z") return false; // exited, waiting to be reaped
  return record.startTicks === undefined || stat.startTicks === record.startTicks;
}

/**
 * Whether signalling -pgid would reach the daemon's group rather than a stranger's. While any
 * member lives the kernel won't hand out that id, so a group without its leader is still ours;
 * but once the leader's pid belongs to a different process, that process may lead a new group.
 */
function ownsGroup(record: PidRecord): boolean {
  if (isAlive(record)) return true;
  const stat = readProcStat(record.pid);
  return !stat || stat.state === "Z";
}

function groupAlive(pgid: number): boolean {
  const members = processGroupMembers(pgid);
  if (members) return members.length > 0;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return isErrno(err, "EPERM");
  }
}

async function waitForGroupExit(pgid: number, withinMs: number): Promise<boolean> {
  try {
    // Failures inside the start period are free, so the first one after it ends the wait.
    await waitUntil(() => Promise.resolve(!groupAlive(pgid)), {
      intervalMs: POLL_MS,
      timeoutMs: 0,
      retries: 1,
      startPeriodMs: withinMs,
    });
    return true;
  } catch (err) {
    if (err instanceof HealthTimeoutError) return false;
    throw err;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if (!isErrno(err, "ESRCH")) throw err; // gone already
  }
}

function readPidFile(pidFile: string): PidRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(pidFile, "utf8"));
  } catch {
    return undefined; // missing or corrupt
  }
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Partial<PidRecord>;
  if (!isPid(r.pid) || !isPid(r.pgid)) return undefined;
  const record: PidRecord = {
    pid: r.pid,
    pgid: r.pgid,
    startedAtMs: typeof r.startedAtMs === "number" ? r.startedAtMs : 0,
    cmd: typeof r.cmd === "string" ? r.cmd : "",
  };
  if (typeof r.startTicks === "number") record.startTicks = r.startTicks;
  if (isPid(r.stopping)) record.stopping = r.stopping;
  return record;
}

function writePidFile(pidFile: string, record: PidRecord): void {
  writeAtomic(pidFile, `${JSON.stringify(record)}\n`);
}

function isPid(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 1;
}

/** Up to `length` bytes of the file at `position` (fewer at its end). */
export function readRange(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const n = fs.readSync(fd, buf, read, length - read, position + read);
    if (n === 0) break;
    read += n;
  }
  return buf.subarray(0, read);
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  for (const byte of buf) if (byte === 0x0a) n++;
  return n;
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
