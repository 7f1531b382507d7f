/** Container lifecycle: create + start + wait until ready, inspect, force-remove. */
import type Dockerode from "dockerode";
import type { HealthCheck } from "../spec/model";
import { DockerError, docker, dockerFailure, dockerReason, statusOf, type Labels } from "./client";
import { inspectContainer } from "./inspect";
import { ensureVolume, pullImage } from "./objects";
import { probedHostPort, runFailure, waitDockerHealthy, waitProbe, waitRunning } from "./readiness";
import { sleep } from "../runtime/probes";

export { ContainerRunError } from "./readiness";
export { inspectContainer, type ContainerInfo } from "./inspect";

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

async function waitGone(name: string, host?: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!(await inspectContainer(name, host))) return;
    await sleep(POLL_MS);
  }
  throw new DockerError(`removing container ${name}: still present after 10s`);
}
