/**
 * Running commands on other machines with the system OpenSSH client. No agent prompts, no
 * password prompts (BatchMode), host keys remembered in envctl's own known_hosts file, so a
 * probe never blocks on a question nobody is there to answer.
 */
import { spawn } from "node:child_process";

/** Where to connect: the SSH side of a host record. */
export interface SshTarget {
  host: string;
  port: number;
  /** Login name; the client's default (config or current user) when null. */
  user: string | null;
}

export interface SshOptions {
  /** known_hosts file envctl owns ($ENVCTL_HOME/known_hosts); new keys are accepted once. */
  knownHostsFile: string;
  /** Private key passed with `-i`; the client's defaults when omitted. */
  identity?: string;
  /** Whole-command limit; the process is killed after it. @default 10000 */
  timeoutMs?: number;
  /** Text written to the remote command's stdin (e.g. a script for `sh -s`). */
  input?: string;
  signal?: AbortSignal;
}

export interface SshResult {
  /** The remote command's exit status; 255 is ssh's own failure; null when killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** ssh's own failures (cannot connect, auth refused) exit with this status. */
export const SSH_FAILED = 255;

/** `user@host:port` for messages. */
export function sshLabel(t: SshTarget): string {
  return `${t.user ? `${t.user}@` : ""}${t.host}:${t.port}`;
}

/** The argument vector for `ssh`: options, then `--`, then the destination and command. */
export function sshArgs(target: SshTarget, opts: SshOptions, command: string): string[] {
  const connectTimeoutSec = Math.max(1, Math.min(5, Math.ceil((opts.timeoutMs ?? 10_000) / 1000)));
  const args = [
    "-T", // no pty: the output is parsed, not shown
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=accept-new",
    "-o",
    `UserKnownHostsFile=${opts.knownHostsFile}`,
    "-o",
    `ConnectTimeout=${connectTimeoutSec}`,
    "-o",
    "LogLevel=ERROR", // keeps "Permanently added ..." out of stderr, which becomes the reason
    "-p",
    String(target.port),
  ];
  if (opts.identity) args.push("-i", opts.identity, "-o", "IdentitiesOnly=yes");
  if (target.user) args.push("-l", target.user);
  if (opts.input === undefined) args.push("-n");
  // `--` so a destination can never be read as an option.
  args.push("--", target.host, command);
  return args;
}

/** Runs `command` on the target. Never throws for a failed connection: see `code` and `stderr`. */
export function sshRun(target: SshTarget, command: string, opts: SshOptions): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", sshArgs(target, opts, command), {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      signal: opts.signal,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 10_000);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    if (opts.input !== undefined) {
      child.stdin!.on("error", () => undefined); // EPIPE when ssh exits before reading it
      child.stdin!.end(opts.input);
    }
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === "ENOENT") {
        reject(new Error("the OpenSSH client (ssh) is not installed"));
      } else if (err.name === "AbortError") {
        resolve({ code: null, stdout, stderr, timedOut });
      } else {
        reject(err);
      }
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/**
 * Why an ssh run failed, in ssh's own words where it gave some: its last stderr line
 * ("ssh: connect to host 10.0.0.5 port 22: Connection refused"), else the exit status.
 */
export function sshFailure(target: SshTarget, r: SshResult, timeoutMs: number): string {
  if (r.timedOut) return `ssh ${sshLabel(target)}: no answer within ${timeoutMs}ms`;
  const last = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  if (last) return last.startsWith("ssh:") ? last : `ssh ${sshLabel(target)}: ${last}`;
  return r.code === null
    ? `ssh ${sshLabel(target)}: interrupted`
    : `ssh ${sshLabel(target)}: exit status ${r.code}`;
}
