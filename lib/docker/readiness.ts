/**
 * Waiting for a started container to be ready, and the error that says why it never was: its
 * exit code, restarts or last health output, with the tail of its log.
 */
import type { HealthCheck } from "../spec/model";
import { DockerError, docker, dockerReason, followJsonStream, publishedAddress } from "./client";
import { inspectContainer, type ContainerInfo } from "./inspect";
import { containerLogs } from "./objects";
import {
  HealthTimeoutError,
  formatMs,
  probeHttp,
  probeTcp,
  sleep,
  waitUntil,
} from "../runtime/probes";

/** The part of a container's spec that readiness checks read. */
export interface Probed {
  name: string;
  ports: { container: number; host: number; protocol: "tcp" | "udp" }[];
  dockerHost?: string;
}

const LOG_TAIL = 20;
const POLL_MS = 100;

/** A container that was created but never became ready. It is left in place. */
export class ContainerRunError extends DockerError {
  override readonly name = "ContainerRunError";
  constructor(
    message: string,
    readonly container: string,
    readonly id: string,
    /** The log tail included in the message. */
    readonly logs: string,
  ) {
    super(message);
  }
}

/** Inspects the container and throws a ContainerRunError if waiting on it is pointless. */
async function assertAlive(name: string, host?: string): Promise<ContainerInfo> {
  const info = await inspectContainer(name, host);
  if (!info) throw new DockerError(`container ${name} was removed while envctl waited for it`);
  if (info.restartCount > 0 || info.status === "restarting" || !info.running) {
    // Once restarted and running again, inspect reports exit code 0 for the run in progress.
    const stale = info.running && info.status !== "restarting";
    const code = stale ? await lastExitCode(info.id, host) : info.exitCode;
    const restarts =
      info.restartCount > 0
        ? ` (restarted ${info.restartCount} time${info.restartCount > 1 ? "s" : ""})`
        : "";
    throw await runFailure(
      name,
      info.id,
      `container ${name} exited${code === undefined ? "" : ` with code ${code}`}${restarts} before it was ready`,
      host,
    );
  }
  if (info.health === "unhealthy") {
    throw await runFailure(
      name,
      info.id,
      `container ${name} is unhealthy${await lastHealthOutput(name, host)}`,
      host,
    );
  }
  return info;
}

export async function waitRunning(
  name: string,
  settleMs: number,
  host?: string,
  signal?: AbortSignal,
): Promise<void> {
  const settled = Date.now() + settleMs;
  for (;;) {
    await assertAlive(name, host);
    if (Date.now() >= settled) return;
    await sleep(POLL_MS, signal);
  }
}

export async function waitDockerHealthy(
  name: string,
  h: HealthCheck,
  host?: string,
  signal?: AbortSignal,
): Promise<void> {
  const interval = h.intervalMs > 0 ? h.intervalMs : 30_000; // Docker's defaults for zeros
  const timeout = h.timeoutMs > 0 ? h.timeoutMs : 30_000;
  const retries = h.retries > 0 ? h.retries : 3;
  const budget = h.startPeriodMs + (retries + 1) * (interval + timeout) + 5_000;
  const deadline = Date.now() + budget;
  // Inspecting is cheap next to a late start of every dependent: look often (50 ms for a
  // 500 ms check, 250 ms at most).
  const poll = Math.min(250, Math.max(50, interval / 10));
  for (;;) {
    const info = await assertAlive(name, host);
    if (info.health === "healthy") return;
    if (Date.now() >= deadline) {
      const msg = `container ${name} was not healthy after ${formatMs(budget)}${await lastHealthOutput(name, host)}`;
      throw await runFailure(name, info.id, msg, host);
    }
    await sleep(poll, signal);
  }
}

/** The host port an http/tcp check probes: where `health.port` (else the first tcp port) is published. */
export function probedHostPort(spec: Probed, h: HealthCheck): number {
  const mapping = spec.ports.find(
    (p) => p.protocol === "tcp" && (h.port === undefined || p.container === h.port),
  );
  if (!mapping) {
    throw new DockerError(
      `container ${spec.name}: ${h.kind} health check port ${h.port ?? "(none)"} is not published`,
    );
  }
  return mapping.host;
}

export async function waitProbe(spec: Probed, h: HealthCheck, signal?: AbortSignal): Promise<void> {
  const hostPort = probedHostPort(spec, h);
  const address = publishedAddress(spec.dockerHost);
  const url = `http://${address}:${hostPort}${h.path ?? "/"}`;
  try {
    await waitUntil(
      async () => {
        await assertAlive(spec.name, spec.dockerHost);
        if (h.kind === "http") {
          const r = await probeHttp(url, h.timeoutMs);
          return { ok: r.ok, ...(r.error ? { detail: r.error } : {}) };
        }
        const ok = await probeTcp(address, hostPort, h.timeoutMs);
        return {
          ok,
          detail: `no TCP server answered on ${address}:${hostPort}`,
        };
      },
      // Slack on the per-check limit: the inspect before each probe takes time too.
      {
        intervalMs: h.intervalMs,
        timeoutMs: h.timeoutMs + 2_000,
        retries: h.retries,
        startPeriodMs: h.startPeriodMs,
        ...(signal ? { signal } : {}),
      },
    );
  } catch (err) {
    if (!(err instanceof HealthTimeoutError)) throw err;
    const id = (await inspectContainer(spec.name, spec.dockerHost))?.id ?? "";
    throw await runFailure(
      spec.name,
      id,
      `container ${spec.name} did not become healthy: ${err.message}`,
      spec.dockerHost,
    );
  }
}

/** Exit code of the container's latest `die` event: the run that failed, not the one in progress. */
async function lastExitCode(id: string, host?: string): Promise<number | undefined> {
  let code: number | undefined;
  try {
    const stream = await docker(host).getEvents({
      since: 0,
      until: Date.now() / 1000, // a bounded query: the stream ends instead of following
      filters: { container: [id], event: ["die"] },
    });
    await followJsonStream(stream, (event) => {
      const attr = (event as { Actor?: { Attributes?: { exitCode?: string } } }).Actor?.Attributes;
      if (attr?.exitCode !== undefined) code = Number(attr.exitCode);
    });
  } catch {
    // Best effort: the message just leaves the code out.
  }
  return code;
}

async function lastHealthOutput(name: string, host?: string): Promise<string> {
  try {
    const info = await docker(host).getContainer(name).inspect();
    const last = info.State.Health?.Log.at(-1);
    if (!last) return "";
    const out = last.Output.trim();
    return ` (health check exit code ${last.ExitCode}${out ? `: ${out.split("\n").slice(-3).join(" / ")}` : ""})`;
  } catch {
    return "";
  }
}

export async function runFailure(
  name: string,
  id: string,
  message: string,
  host?: string,
): Promise<ContainerRunError> {
  let logs: string;
  try {
    logs = (await containerLogs(name, LOG_TAIL, host)).trimEnd();
  } catch (err) {
    return new ContainerRunError(
      `${message}\n(logs unavailable: ${dockerReason(err)})`,
      name,
      id,
      "",
    );
  }
  const body = logs
    ? `last ${LOG_TAIL} log lines:\n${logs
        .split("\n")
        .slice(-LOG_TAIL)
        .map((l) => `  | ${l}`)
        .join("\n")}`
    : "(no log output)";
  return new ContainerRunError(`${message}\n${body}`, name, id, logs);
}
