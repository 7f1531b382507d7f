/**
 * Readiness probes and the polling loop that waits on them. No Docker here: lib/docker
 * points these at published host ports, tests point them at local node servers.
 */
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import { spawn } from "node:child_process";
import { sourceThen } from "../core/shell";
import { userEnv } from "../core/toolchain";
import type { HealthCheck, ResolvedPort } from "../spec/model";

/** Thrown by {@link waitUntil} once a check has failed `retries` counted times. */
export class HealthTimeoutError extends Error {
  override readonly name = "HealthTimeoutError";
  constructor(
    message: string,
    /** Checks run, including those inside the start period. */
    readonly attempts: number,
    readonly elapsedMs: number,
    /** Why the last check failed. */
    readonly lastError: string,
  ) {
    super(message);
  }
}

/**
 * How long a TCP connection must stay open before the probe believes it. Docker's userland
 * proxy accepts on the published port even when nothing listens in the container, then
 * closes the connection once its own dial fails; a real server keeps it open (or talks).
 */
const TCP_SETTLE_MS = 150;

/** True when something accepts (and keeps) a TCP connection on host:port within timeoutMs. */
export async function probeTcp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const timers: NodeJS.Timeout[] = [];
    const socket = net.connect({ host, port });
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      timers.forEach(clearTimeout);
      socket.destroy();
      resolve(ok);
    };
    timers.push(setTimeout(() => finish(false), timeoutMs));
    socket.once("connect", () => {
      timers.push(setTimeout(() => finish(true), Math.min(TCP_SETTLE_MS, timeoutMs)));
    });
    socket.once("data", () => finish(true)); // a banner (ssh, smtp, mysql) proves a server
    socket.once("end", () => finish(false));
    socket.once("close", () => finish(false));
    socket.once("error", () => finish(false));
  });
}

/** GETs `url`; ok for 2xx/3xx. Never throws: failures come back as `error`. */
export async function probeHttp(
  url: string,
  timeoutMs: number,
): Promise<{ ok: boolean; status?: number; error?: string }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { ok: boolean; status?: number; error?: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    let req: http.ClientRequest;
    try {
      const get = url.startsWith("https:") ? https.get : http.get;
      req = get(url, { agent: false, headers: { "user-agent": "envctl-health" } }, (res) => {
        const status = res.statusCode ?? 0;
        res.resume(); // drain so the socket can close
        const ok = status >= 200 && status < 400;
        finish(ok ? { ok, status } : { ok, status, error: `HTTP ${status} from ${url}` });
        req.destroy();
      });
    } catch (err) {
      // Invalid URL and the like are thrown synchronously.
      resolve({ ok: false, error: errorText(err) });
      return;
    }
    const timer = setTimeout(() => {
      finish({ ok: false, error: `GET ${url} timed out after ${timeoutMs}ms` });
      req.destroy();
    }, timeoutMs);
    req.on("error", (err) => finish({ ok: false, error: `GET ${url}: ${errorText(err)}` }));
  });
}

export interface WaitOptions {
  /** Pause between the end of one check and the start of the next. */
  intervalMs: number;
  /** Per-check limit; a check that takes longer counts as a failure (0 = no limit). */
  timeoutMs: number;
  /** Counted failures that end the wait (at least 1). */
  retries: number;
  /** Failures of checks started within this long of the first one are not counted. */
  startPeriodMs: number;
  /** Aborting rejects the wait promptly with the signal's reason. */
  signal?: AbortSignal;
}

type CheckResult = boolean | { ok: boolean; detail?: string };

/**
 * Polls `check` until it returns true, with Docker HEALTHCHECK semantics: failures during
 * the start period don't count; after `retries` counted failures throws HealthTimeoutError
 * whose message includes the last failure. A check that throws ends the wait with that error,
 * which is how callers report conditions that make waiting pointless (the container exited).
 */
export async function waitUntil(
  check: () => Promise<CheckResult>,
  opts: WaitOptions,
): Promise<{ attempts: number; elapsedMs: number }> {
  const started = Date.now();
  const retries = Math.max(1, opts.retries);
  let attempts = 0;
  let counted = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const attemptStart = Date.now();
    attempts++;
    const result = await runCheck(check, opts.timeoutMs, opts.signal);
    if (result.ok) return { attempts, elapsedMs: Date.now() - started };
    if (attemptStart - started >= opts.startPeriodMs) counted++;
    if (counted >= retries) {
      const elapsedMs = Date.now() - started;
      const detail = result.detail ?? "check failed";
      throw new HealthTimeoutError(
        `not ready after ${attempts} checks in ${formatMs(elapsedMs)}: ${detail}`,
        attempts,
        elapsedMs,
        detail,
      );
    }
    await sleep(opts.intervalMs, opts.signal);
  }
}

async function runCheck(
  check: () => Promise<CheckResult>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ ok: boolean; detail?: string }> {
  const pending = check().then((r) => (typeof r === "boolean" ? { ok: r } : r));
  const racers: Promise<{ ok: boolean; detail?: string }>[] = [pending];
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs > 0) {
    racers.push(
      new Promise((resolve) => {
        timer = setTimeout(
          () =>
            resolve({
              ok: false,
              detail: `check timed out after ${timeoutMs}ms`,
            }),
          timeoutMs,
        );
      }),
    );
  }
  const aborted = abortPromise(signal);
  if (aborted) racers.push(aborted.promise);
  try {
    return await Promise.race(racers);
  } finally {
    clearTimeout(timer);
    aborted?.dispose();
    pending.catch(() => undefined); // a check abandoned by the timeout may still reject
  }
}

/** Resolves after ms; rejects with the signal's reason as soon as it aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const aborted = abortPromise(signal);
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race(aborted ? [elapsed, aborted.promise] : [elapsed]);
  } finally {
    clearTimeout(timer);
    aborted?.dispose();
  }
}

function abortPromise(
  signal: AbortSignal | undefined,
): { promise: Promise<never>; dispose: () => void } | undefined {
  if (!signal) return undefined;
  let onAbort = (): void => undefined;
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  promise.catch(() => undefined); // only observed when it wins the race
  return {
    promise,
    dispose: () => signal.removeEventListener("abort", onAbort),
  };
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    // AggregateError (dual-stack connect failures) has an empty message; use the parts.
    if (!err.message && err instanceof AggregateError) {
      return err.errors.map(errorText).join("; ");
    }
    return err.message || String((err as NodeJS.ErrnoException).code ?? err.name);
  }
  return String(err);
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

// ---------------------------------------------------------------------------------------------
// one probe of a service

/*
 * One health probe of a service from the host: http/tcp against its host port, or a command.
 * Process services run their command check on the host (in the service's directory, env.sh
 * sourced); container services' command checks run inside the container through Docker.
 */
export interface ProbeResult {
  ok: boolean;
  detail?: string;
}

/** The host port a http/tcp check targets (`health.port` is a container/nominal port). */
export function probedPort(health: HealthCheck, ports: ResolvedPort[]): number | undefined {
  const want = health.port ?? ports[0]?.container;
  return ports.find((p) => p.container === want && p.protocol === "tcp")?.host;
}

/** Where a host-side command check runs: the service's directory, env.sh, its own variables. */
export interface HostContext {
  cwd: string;
  envFile?: string;
  /** The service's own variables (a process's env and PORT), kept over env.sh's exports. */
  env?: Record<string, string>;
}

export async function probeOnce(
  health: HealthCheck,
  ports: ResolvedPort[],
  host: HostContext,
): Promise<ProbeResult> {
  if (health.kind === "command")
    return probeCommand(health.command ?? "true", host, health.timeoutMs);
  const port = probedPort(health, ports);
  if (port === undefined) return { ok: false, detail: "no published port to probe" };
  if (health.kind === "tcp") {
    const ok = await probeTcp("127.0.0.1", port, health.timeoutMs);
    return ok ? { ok } : { ok, detail: `nothing accepts connections on port ${port}` };
  }
  const res = await probeHttp(`http://127.0.0.1:${port}${health.path ?? "/"}`, health.timeoutMs);
  return res.ok ? { ok: true } : { ok: false, detail: res.error ?? `HTTP ${res.status}` };
}

/** Runs `sh -c command` on the host; ok on exit 0 within the timeout. */
export function probeCommand(
  command: string,
  host: HostContext,
  timeoutMs: number,
): Promise<ProbeResult> {
  const env = host.env ?? {};
  const script = host.envFile
    ? sourceThen(host.envFile, command, Object.keys(env), { quiet: true })
    : command;
  return new Promise((resolve) => {
    let out = "";
    const child = spawn("/bin/sh", ["-c", script], {
      cwd: host.cwd,
      env: { ...userEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            try {
              process.kill(-child.pid!, "SIGKILL");
            } catch {
              // gone already
            }
          }, timeoutMs)
        : undefined;
    const keep = (b: Buffer): void => {
      out = (out + b.toString()).slice(-500);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: err.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true });
      else {
        const why = signal ? `timed out after ${timeoutMs}ms` : `exit ${code}`;
        resolve({
          ok: false,
          detail: `\`${command}\`: ${why}${out.trim() ? `: ${out.trim()}` : ""}`,
        });
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// host ports in use

/** Whether a TCP listen on host:port is refused because someone else has it. */
function refused(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", (err: NodeJS.ErrnoException) => {
      resolve(err.code === "EADDRINUSE" || err.code === "EACCES");
    });
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(false));
    });
  });
}

/**
 * Host ports that are already taken. Each port is probed on 0.0.0.0 and then 127.0.0.1 (a
 * loopback-only listener does not always block a wildcard bind); ports are probed in parallel.
 */
export async function busyPorts(ports: number[]): Promise<number[]> {
  const distinct = [...new Set(ports)];
  for (const p of distinct) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`invalid port ${p}`);
  }
  const busy = await Promise.all(
    distinct.map(async (p) => (await refused(p, "0.0.0.0")) || (await refused(p, "127.0.0.1"))),
  );
  return distinct.filter((_, i) => busy[i]);
}
