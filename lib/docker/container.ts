/** Container lifecycle: create + start + wait until ready, inspect, force-remove. */
import * as fs from "node:fs";
import * as path from "node:path";
import type Dockerode from "dockerode";
import type { ContainerFile, DockerOptions, HealthCheck, LifecycleHook } from "../spec/model";
import { runtimeOptions } from "./options";
import { DockerError, docker, dockerFailure, dockerReason, statusOf, type Labels } from "./client";
import { inspectContainer } from "./inspect";
import { demuxLogs, ensureVolume, pullImage } from "./objects";
import { probedHostPort, runFailure, waitDockerHealthy, waitProbe, waitRunning } from "./readiness";
import { sleep } from "../runtime/probes";
import { localSocket, removeContainerNow } from "./socket";

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
  /** Published on `hostIp`, or on every address when it is absent. */
  ports: { container: number; host: number; protocol: "tcp" | "udp"; hostIp?: string }[];
  /** Named volumes that don't exist yet are created with the container's labels. */
  volumes: {
    source: string;
    target: string;
    readOnly: boolean;
    kind: "volume" | "bind" | "tmpfs";
    noCopy?: boolean;
    tmpfsSize?: number;
    tmpfsMode?: number;
  }[];
  /** The network the container is created on, and its names there. */
  network: string;
  aliases: string[];
  /** `CONTAINER:ALIAS` links on the first network (compose `links`). */
  links?: string[];
  /** Further networks, joined before the container starts. */
  networks?: { name: string; aliases: string[]; links?: string[]; ipv4?: string; ipv6?: string }[];
  /** Runtime options as Compose names them; names of other services already made container names. */
  docker?: DockerOptions;
  /** Files put into the container before it starts (secrets and configs given by value). */
  files?: ContainerFile[];
  /**
   * The private host directory the files are written to and bind-mounted from, read-only (so
   * they work with a read-only root filesystem); required with `files`.
   */
  filesDir?: string;
  /**
   * When the container counts as ready: `healthy` (its health check passes; running when it has
   * none), `started` (running, without waiting for health) or `completed` (exited with 0).
   * @default "healthy"
   */
  ready?: "healthy" | "started" | "completed";
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
  if (spec.files?.length) {
    if (!spec.filesDir)
      throw new DockerError(`container ${spec.name}: files need a directory to be written to`);
    spec = {
      ...spec,
      volumes: [...spec.volumes, ...writeFiles(spec.files, spec.filesDir)],
      files: [],
    };
  }
  for (const v of spec.volumes) {
    if (v.kind === "volume") await ensureVolume(v.source, spec.labels, host);
    // A missing bind source is made empty, as `docker run -v` and Compose's short syntax do
    // (the engine's mount API refuses it instead). Only a local engine's paths are ours to make.
    if (v.kind === "bind" && isLocal(host) && !fs.existsSync(v.source)) {
      fs.mkdirSync(v.source, { recursive: true });
    }
  }
  const container = await create(spec);
  try {
    for (const n of spec.networks ?? []) {
      await docker(host)
        .getNetwork(n.name)
        .connect({
          Container: container.id,
          EndpointConfig: endpoint(n.aliases, n.links, n.ipv4, n.ipv6),
        });
    }
  } catch (err) {
    throw dockerFailure(`preparing container ${spec.name}`, err);
  }
  try {
    await container.start();
  } catch (err) {
    const msg = `starting container ${spec.name} failed: ${dockerReason(err)}`;
    throw await runFailure(spec.name, container.id, msg, host);
  }
  for (const hook of spec.docker?.post_start ?? [])
    await runHook(spec, container.id, hook, "post_start");
  const { health } = spec;
  const ready = spec.ready ?? "healthy";
  if (ready === "completed") await waitCompleted(spec.name, container.id, host, opts.signal);
  else if (ready === "started") await waitRunning(spec.name, 0, host, opts.signal);
  else if (!health) await waitRunning(spec.name, opts.settleMs ?? 500, host, opts.signal);
  else await waitHealthy(spec, opts.signal);
  return { id: container.id };
}

/** Waits for the container's health: Docker's check for kind command, envctl's probe otherwise. */
export async function waitHealthy(
  spec: Pick<ContainerSpec, "name" | "ports" | "health" | "dockerHost">,
  signal?: AbortSignal,
): Promise<void> {
  const h = spec.health;
  if (!h) return waitRunning(spec.name, 0, spec.dockerHost, signal);
  if (h.kind === "command") return waitDockerHealthy(spec.name, h, spec.dockerHost, signal);
  return waitProbe(spec, h, signal);
}

/** A run-to-completion container (a dependency's service_completed_successfully): exit 0. */
async function waitCompleted(
  name: string,
  id: string,
  host?: string,
  signal?: AbortSignal,
): Promise<void> {
  for (;;) {
    const info = await inspectContainer(name, host);
    if (!info) throw new DockerError(`container ${name} was removed while envctl waited for it`);
    if (!info.running && info.status !== "created") {
      if (info.exitCode === 0) return;
      throw await runFailure(
        name,
        id,
        `container ${name} exited with code ${info.exitCode}; the services that need it to complete were not started`,
        host,
      );
    }
    await sleep(POLL_MS, signal);
  }
}

function isLocal(host: string | undefined): boolean {
  const target = host ?? process.env.DOCKER_HOST;
  return !target || target.startsWith("unix:");
}

/** Runs a lifecycle hook in the container; a failing one fails the operation with its output. */
async function runHook(
  spec: Pick<ContainerSpec, "name" | "dockerHost">,
  id: string,
  hook: LifecycleHook,
  which: "post_start" | "pre_stop",
): Promise<void> {
  const c = docker(spec.dockerHost).getContainer(id);
  const exec = await c.exec({
    Cmd: hook.command,
    AttachStdout: true,
    AttachStderr: true,
    ...(hook.user ? { User: hook.user } : {}),
    ...(hook.privileged ? { Privileged: true } : {}),
    ...(hook.working_dir ? { WorkingDir: hook.working_dir } : {}),
    ...(hook.environment
      ? { Env: Object.entries(hook.environment).map(([k, v]) => `${k}=${v}`) }
      : {}),
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (b: Buffer) => chunks.push(b));
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const { ExitCode } = await exec.inspect();
  if (ExitCode !== 0 && ExitCode !== null) {
    const out = demuxLogs(Buffer.concat(chunks)).trim().split("\n").slice(-10).join("\n  | ");
    throw new DockerError(
      `container ${spec.name}: ${which} hook ${JSON.stringify(hook.command)} exited with code ${ExitCode}${out ? `:\n  | ${out}` : ""}`,
    );
  }
}

function endpoint(
  aliases: string[],
  links: string[] | undefined,
  ipv4?: string,
  ipv6?: string,
): Dockerode.EndpointSettings {
  return {
    Aliases: aliases,
    ...(links?.length ? { Links: links } : {}),
    ...(ipv4 || ipv6
      ? {
          IPAMConfig: {
            ...(ipv4 ? { IPv4Address: ipv4 } : {}),
            ...(ipv6 ? { IPv6Address: ipv6 } : {}),
          },
        }
      : {}),
  };
}

/** Writes the files into `dir` (replacing what was there) and returns their bind mounts. */
function writeFiles(files: ContainerFile[], dir: string): ContainerSpec["volumes"] {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mounts = files.map((f, i) => {
    const file = path.join(dir, `${i}-${path.basename(f.target)}`);
    fs.writeFileSync(file, f.content, { mode: 0o600 });
    fs.chmodSync(file, f.mode ?? 0o444);
    const uid = f.uid !== undefined && /^\d+$/.test(f.uid) ? Number(f.uid) : -1;
    const gid = f.gid !== undefined && /^\d+$/.test(f.gid) ? Number(f.gid) : -1;
    if (uid >= 0 || gid >= 0) fs.chownSync(file, uid, gid);
    return { source: file, target: f.target, readOnly: true, kind: "bind" as const };
  });
  // The directory only needs to be passable for the container's user.
  fs.chmodSync(dir, 0o711);
  return mounts;
}

/**
 * Removes the container and its anonymous volumes. Gone already is fine. A container whose
 * service sets how it stops (stop_signal, stop_grace_period, pre_stop) gets its pre_stop hooks
 * and then a stop with its signal and grace period first; others are killed at once.
 */
export async function removeContainer(
  name: string,
  host?: string,
  stop?: Pick<DockerOptions, "stop_signal" | "stop_grace_period" | "pre_stop">,
): Promise<void> {
  if (stop && (stop.stop_signal || stop.stop_grace_period || stop.pre_stop?.length)) {
    const c = docker(host).getContainer(name);
    const info = await inspectContainer(name, host).catch(() => undefined);
    if (info?.running) {
      for (const hook of stop.pre_stop ?? []) {
        await runHook(
          { name, ...(host ? { dockerHost: host } : {}) },
          info.id,
          hook,
          "pre_stop",
        ).catch(() => undefined);
      }
      // The container was created with its StopSignal and StopTimeout; stop uses them.
      await c.stop().catch(() => undefined);
    }
  }
  try {
    const socket = host === undefined ? localSocket() : undefined;
    if (socket) {
      if ((await removeContainerNow(socket, name, false)) === "in progress") {
        return waitGone(name, host);
      }
      return;
    }
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
  const runtime = runtimeOptions(spec.docker);
  const exposed: Record<string, object> = {};
  for (const key of runtime.exposed) exposed[key] = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports) {
    const key = `${p.container}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({
      HostIp: p.hostIp ?? "0.0.0.0",
      HostPort: String(p.host),
    });
  }
  const mode = spec.docker?.network_mode;
  const ownNetwork = mode === undefined || mode === "bridge";
  // A one-off container is not brought back by the engine unless its service asks for that.
  const restart = spec.restart ?? (spec.ready === "completed" ? "no" : "unless-stopped");
  const remote = !isLocal(spec.dockerHost);
  const mounts = spec.volumes.filter((v) => !(remote && v.kind === "bind"));
  const remoteBinds = remote
    ? spec.volumes
        .filter((v) => v.kind === "bind")
        .map((v) => `${v.source}:${v.target}${v.readOnly ? ":ro" : ""}`)
    : [];
  const healthcheck = spec.docker?.no_healthcheck
    ? { Test: ["NONE"] }
    : spec.health?.kind === "command"
      ? commandHealthcheck(spec)
      : undefined;
  return {
    name: spec.name,
    // Goes to the query string with `name` (dockerode sends create options as both).
    ...(spec.docker?.platform ? { platform: spec.docker.platform } : {}),
    Image: spec.image,
    ...(spec.command ? { Cmd: spec.command } : {}),
    ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    ...runtime.config,
    Labels: spec.labels,
    ExposedPorts: exposed,
    ...(healthcheck ? { Healthcheck: healthcheck } : {}),
    HostConfig: {
      PortBindings: bindings,
      // On a remote engine a bind source is a path of that host: the legacy Binds form makes
      // a missing one there (the mount API refuses it), as `docker run -v` does.
      ...(remoteBinds.length ? { Binds: remoteBinds } : {}),
      Mounts: mounts.map((v): Dockerode.MountSettings => ({
        Type: v.kind,
        Source: v.source,
        Target: v.target,
        ReadOnly: v.readOnly,
        // The typings require every field; the engine takes them one by one.
        ...(v.noCopy
          ? { VolumeOptions: { NoCopy: true } as Dockerode.MountSettings["VolumeOptions"] }
          : {}),
        ...(v.kind === "tmpfs" && (v.tmpfsSize !== undefined || v.tmpfsMode !== undefined)
          ? {
              TmpfsOptions: {
                ...(v.tmpfsSize !== undefined ? { SizeBytes: v.tmpfsSize } : {}),
                ...(v.tmpfsMode !== undefined ? { Mode: v.tmpfsMode } : {}),
              } as Dockerode.MountSettings["TmpfsOptions"],
            }
          : {}),
      })),
      NetworkMode: ownNetwork ? spec.network : mode,
      RestartPolicy: { Name: restart },
      ...runtime.host,
      ...(spec.docker?.volumes_from?.length ? { VolumesFrom: spec.docker.volumes_from } : {}),
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
    ...(ownNetwork
      ? {
          NetworkingConfig: {
            EndpointsConfig: { [spec.network]: endpoint(spec.aliases, spec.links) },
          },
        }
      : {}),
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
    Test: h.test ?? ["CMD-SHELL", h.command ?? ""],
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
