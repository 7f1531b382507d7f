/** Container lifecycle: create + start + wait until ready, inspect, force-remove. */
import type Dockerode from "dockerode";
import type { HealthCheck } from "../spec/model";
import {
  DockerError,
  docker,
  dockerFailure,
  dockerReason,
  followJsonStream,
  publishedAddress,
  statusOf,
  type Labels,
} from "./client";
import { containerLogs, ensureVolume, pullImage } from "./objects";
import {
  HealthTimeoutError,
  formatMs,
  probeHttp,
  probeTcp,
  sleep,
  waitUntil,
} from "../runtime/probes";

export interface ContainerSpec {
  /** Docker container name, e.g. `envctl-demo-web`. */
  name: string;
  /** Image ID or reference; a reference missing locally is pulled. */
  image: string;
  command?: string[];
  entrypoint?: string[];
  env: Record<string, string>;
  /** Published on 0.0.0.0. */
  ports: { container: number; host: number; protocol: "tcp" | "udp" }[];
  /** Named volumes that don't exist yet are created with the container's labels. */
  volumes: {
    source: string;
    target: string;
    readOnly: boolean;
    kind: "volume" | "bind";
  }[];
  network: string;
  aliases: string[];
  labels: Labels;
  health?: HealthCheck;
  /** @default "unless-stopped" */
  restart?: "no" | "unless-stopped";
  ulimits?: Record<string, { soft: number; hard: number }>;
  /** The Docker engine the container runs on (see lib/docker/client.ts); the local one when unset. */
  dockerHost?: string;
}

export interface RunOptions {
  /** Aborting stops the wait (the container is left in place). */
  signal?: AbortSignal;
  /** Without a health check: how long the container must stay up to count as started. @default 500 */
  settleMs?: number;
}

export interface ContainerInfo {
  id: string;
  running: boolean;
  /** `starting` / `healthy` / `unhealthy` when the container has a Docker health check. */
  health?: string;
  /** The image as requested at create time (reference or ID). */
  image: string;
  /** The ID of the image the container runs. */
  imageId: string;
  /** Docker's state: created, running, restarting, exited, … */
  status: string;
  exitCode: number;
  restartCount: number;
  labels: Labels;
}

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

const LOG_TAIL = 20;
const POLL_MS = 100;

/**
 * Creates and starts the container, then waits until it is ready: kind `command` becomes a
 * Docker HEALTHCHECK and we wait for `healthy`; kinds `http` / `tcp` are probed from the
 * host on the published port of `health.port`; no health check means running (and still
 * running after a short settle time). If the container exits, turns unhealthy or the wait
 * times out, throws a ContainerRunError naming it, with its last log lines. A container of
 * the same name carrying our labels (a failed earlier attempt) is replaced.
 */
export async function runContainer(
  spec: ContainerSpec,
  opts: RunOptions = {},
): Promise<{ id: string }> {
  if (spec.health && spec.health.kind !== "command") probedHostPort(spec, spec.health); // fail before creating
  const host = spec.dockerHost;
  await replaceStale(spec);
  for (const v of spec.volumes) {
    if (v.kind === "volume") await ensureVolume(v.source, spec.labels, host);
  }
  const container = await create(spec);
  try {
    await container.start();
  } catch (err) {
    const msg = `starting container ${spec.name} failed: ${dockerReason(err)}`;
    throw await runFailure(spec.name, container.id, msg, host);
  }
  const { health } = spec;
  if (!health) await waitRunning(spec.name, opts.settleMs ?? 500, host, opts.signal);
  else if (health.kind === "command") await waitDockerHealthy(spec.name, health, host, opts.signal);
  else await waitProbe(spec, health, opts.signal);
  return { id: container.id };
}

/** Force-removes (kills) the container and its anonymous volumes. Gone already is fine. */
export async function removeContainer(name: string, host?: string): Promise<void> {
  try {
    await docker(host).getContainer(name).remove({ force: true, v: true });
  } catch (err) {
    if (statusOf(err) === 404) return;
    if (statusOf(err) === 409 && /already in progress/i.test(dockerReason(err))) {
      return waitGone(name, host);
    }
    throw dockerFailure(`removing container ${name}`, err);
  }
}

export async function inspectContainer(
  name: string,
  host?: string,
): Promise<ContainerInfo | undefined> {
  let info: Dockerode.ContainerInspectInfo;
  try {
    info = await docker(host).getContainer(name).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw dockerFailure(`inspecting container ${name}`, err);
  }
  return {
    id: info.Id,
    running: info.State.Running,
    ...(info.State.Health ? { health: info.State.Health.Status } : {}),
    image: info.Config.Image,
    imageId: info.Image,
    status: info.State.Status,
    exitCode: info.State.ExitCode,
    restartCount: info.RestartCount,
    labels: info.Config.Labels ?? {},
  };
}

async function replaceStale(spec: ContainerSpec): Promise<void> {
  const existing = await inspectContainer(spec.name, spec.dockerHost);
  if (!existing) return;
  const ours = Object.entries(spec.labels).every(([k, v]) => existing.labels[k] === v);
  if (!ours) {
    throw new DockerError(
      `container name ${spec.name} is taken by a container envctl does not manage ` +
        `(${existing.id.slice(0, 12)}); remove it or choose another name`,
    );
  }
  await removeContainer(spec.name, spec.dockerHost);
}

async function create(spec: ContainerSpec): Promise<Dockerode.Container> {
  const options = createOptions(spec);
  const host = spec.dockerHost;
  try {
    return await docker(host).createContainer(options);
  } catch (err) {
    const missingImage = statusOf(err) === 404 && /no such image/i.test(dockerReason(err));
    if (!missingImage || spec.image.startsWith("sha256:")) {
      throw dockerFailure(`creating container ${spec.name}`, err);
    }
  }
  try {
    await pullImage(spec.image, host);
  } catch (err) {
    throw new DockerError(
      `creating container ${spec.name}: image ${spec.image} is not available locally ` +
        `and could not be pulled: ${dockerReason(err).replace(`pulling image ${spec.image}: `, "")}`,
    );
  }
  try {
    return await docker(host).createContainer(options);
  } catch (err) {
    throw dockerFailure(`creating container ${spec.name}`, err);
  }
}

export function createOptions(spec: ContainerSpec): Dockerode.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports) {
    const key = `${p.container}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({
      HostIp: "0.0.0.0",
      HostPort: String(p.host),
    });
  }
  return {
    name: spec.name,
    Image: spec.image,
    ...(spec.command ? { Cmd: spec.command } : {}),
    ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    ExposedPorts: exposed,
    ...(spec.health?.kind === "command" ? { Healthcheck: commandHealthcheck(spec) } : {}),
    HostConfig: {
      PortBindings: bindings,
      Mounts: spec.volumes.map((v) => ({
        Type: v.kind,
        Source: v.source,
        Target: v.target,
        ReadOnly: v.readOnly,
      })),
      NetworkMode: spec.network,
      RestartPolicy: { Name: spec.restart ?? "unless-stopped" },
      ...(spec.ulimits
        ? {
            Ulimits: Object.entries(spec.ulimits).map(([Name, l]) => ({
              Name,
              Soft: l.soft,
              Hard: l.hard,
            })),
          }
        : {}),
    },
    NetworkingConfig: {
      EndpointsConfig: { [spec.network]: { Aliases: spec.aliases } },
    },
  };
}

function commandHealthcheck(spec: ContainerSpec): Dockerode.HealthConfig {
  if (!spec.health?.command) {
    throw new DockerError(`container ${spec.name}: a health check of kind command needs a command`);
  }
  return dockerHealthcheck(spec.health)!;
}

/**
 * The HEALTHCHECK Docker is given for `health`: only a `command` check becomes one. An http or
 * tcp check is envctl's own probe from the host, which Docker never sees (undefined).
 */
export function dockerHealthcheck(h: HealthCheck | undefined): Dockerode.HealthConfig | undefined {
  if (h?.kind !== "command") return undefined;
  // The engine takes nanoseconds and rejects non-zero values under 1ms.
  const ns = (ms: number): number => (ms > 0 ? Math.max(1, ms) * 1e6 : 0);
  return {
    Test: ["CMD-SHELL", h.command ?? ""],
    Interval: ns(h.intervalMs),
    Timeout: ns(h.timeoutMs),
    Retries: h.retries,
    StartPeriod: ns(h.startPeriodMs),
  };
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

async function waitRunning(
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

async function waitDockerHealthy(
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
  const poll = Math.min(1_000, Math.max(POLL_MS, interval / 4));
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
function probedHostPort(spec: ContainerSpec, h: HealthCheck): number {
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

async function waitProbe(spec: ContainerSpec, h: HealthCheck, signal?: AbortSignal): Promise<void> {
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

async function runFailure(
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

async function waitGone(name: string, host?: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!(await inspectContainer(name, host))) return;
    await sleep(POLL_MS);
  }
  throw new DockerError(`removing container ${name}: still present after 10s`);
}
