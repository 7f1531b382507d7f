/**
 * What actually runs, compared with what an env's desired state says should: the basis of
 * `list`, `status` and the lifecycle verbs' checks. One Docker call covers every env; daemons
 * are checked through their pid files (pid + kernel start time), so no `pulumi` process runs.
 */
import * as path from "node:path";
import { daemonStatus, truncateLogIfLarge } from "../../runtime/daemon";
import { runningServices } from "./lifecycle";
import { listContainers, localSocket } from "../../docker/socket";
import { LABEL_ENV, LABEL_SERVICE, madeByEnvctl } from "../../core/names";
import type { EnvState, ResolvedEnv } from "../../spec/model";
import {
  readSupervisorState,
  SUPERVISOR,
  type ServiceStatus,
  type SupervisorState,
} from "../../supervisor/model";

export interface ContainerState {
  running: boolean;
  /** Docker's state (running, exited, restarting, ...). */
  status: string;
  /** healthy / unhealthy / starting when the container has a health check. */
  health?: string;
  id: string;
  /** The exit code of an exited container (from Docker's status, `Exited (0) …`). */
  exitCode?: number;
  /** How many containers the service has (replicas); the state is the first one not running. */
  count?: number;
}

/** env -> service -> container state, for every envctl container. */
export type ContainerMap = Map<string, Map<string, ContainerState>>;

/** The engine was reached but failed to list containers: its own words. */
export class DockerTrouble {
  constructor(readonly reason: string) {}
}

/**
 * What Docker runs for envctl: the map, undefined when the engine cannot be reached at all (no
 * socket, connection refused), or a DockerTrouble when it answered with an error.
 */
/** How long a remote engine (over SSH) may take to list its containers before it counts as unreachable. */
const REMOTE_LIST_MS = 30_000;

/** `p`, or a connection failure (ETIMEDOUT) once `ms` pass. */
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          Object.assign(new Error(`no answer within ${ms / 1000}s`), {
            code: "ETIMEDOUT",
            syscall: "connect",
          }),
        ),
      ms,
    );
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export async function envctlContainers(
  /** A remote engine (a hivesync env's SSH target); none: the local one. */
  host?: string,
): Promise<ContainerMap | DockerTrouble | undefined> {
  const filters = { label: [LABEL_ENV] };
  const socket = host ? undefined : localSocket();
  let list;
  try {
    list = socket
      ? await listContainers(socket, filters)
      : await withDeadline(
          (async () =>
            (await import("../../docker/client"))
              .docker(host)
              .listContainers({ all: true, filters }))(),
          REMOTE_LIST_MS,
        );
  } catch (err) {
    const { dockerFailure, isConnectionFailure } = await import("../../docker/client");
    if (isConnectionFailure(err)) return undefined;
    return new DockerTrouble(dockerFailure("listing containers", err).message);
  }
  const out: ContainerMap = new Map();
  for (const c of list) {
    // One run by hand from an env's image carries its labels, not an envctl name.
    if (!madeByEnvctl(c.Names)) continue;
    const env = c.Labels[LABEL_ENV];
    const svc = c.Labels[LABEL_SERVICE];
    if (!env || !svc) continue;
    const health = /\((healthy|unhealthy|health: starting)\)/.exec(c.Status)?.[1];
    if (!out.has(env)) out.set(env, new Map());
    const exit = /^Exited \((\d+)\)/.exec(c.Status)?.[1];
    const state: ContainerState = {
      running: c.State === "running",
      status: c.State,
      id: c.Id.slice(0, 12),
      ...(health ? { health: health === "health: starting" ? "starting" : health } : {}),
      ...(exit !== undefined ? { exitCode: Number(exit) } : {}),
      count: 1,
    };
    // Replicas: one row per service, showing a replica that is not running if there is one.
    const prev = out.get(env)!.get(svc);
    const shown = prev && (!prev.running || state.running) ? prev : state;
    out.get(env)!.set(svc, { ...shown, count: (prev?.count ?? 0) + 1 });
  }
  return out;
}

export interface ServiceReality {
  name: string;
  type: "container" | "process";
  /** The desired state runs it. */
  expected: boolean;
  /** true / false, or undefined when it cannot be known (Docker unreachable or failing). */
  running: boolean | undefined;
  /** A daemon whose pid file outlived it, or a container that exited. */
  crashed: boolean;
  /** `pid 123` / `container 3f2a…` / `exited` */
  detail: string;
  pid?: number;
  /** When the running process started (a daemon's pid file). */
  startedAtMs?: number;
  /** What the env's supervisor says of a process service (when it runs one). */
  supervised?: ServiceStatus;
}

export interface EnvReality {
  desired: EnvState;
  /** Derived from what runs; equals `desired` when reality agrees. */
  actual: EnvState;
  /** Why reality disagrees with the desired state, one reason per line. */
  warnings: string[];
  services: ServiceReality[];
}

export function envReality(
  env: ResolvedEnv,
  desired: EnvState,
  /** undefined: Docker is not reachable; a DockerTrouble: it failed to say. */
  containers: ContainerMap | DockerTrouble | undefined,
): EnvReality {
  const known = containers instanceof Map ? containers : undefined;
  const expected = runningServices(
    env.services,
    desired,
    desired === env.state ? env.only : undefined,
  );
  const jobs = new Set(
    env.services.flatMap((s) =>
      Object.entries(s.conditions ?? {})
        .filter(([, c]) => c === "completed")
        .map(([n]) => n),
    ),
  );
  const supervisor = supervisorState(env.stateDir);
  const services = env.services.map((svc): ServiceReality => {
    const base = { name: svc.name, type: svc.type, expected: expected.has(svc.name) };
    if (svc.type === "process") {
      const st = daemonStatus(env.stateDir, svc.name);
      const sup = supervisor?.services.find((x) => x.name === svc.name);
      return {
        ...base,
        running: st.running,
        crashed: !!st.stale,
        detail: st.running
          ? `pid ${st.pid}`
          : sup?.phase === "backoff" || sup?.phase === "starting"
            ? "restarting"
            : st.stale
              ? `died (pid ${st.pid ?? "?"})`
              : "-",
        ...(st.pid !== undefined ? { pid: st.pid } : {}),
        ...(st.running && st.startedAtMs ? { startedAtMs: st.startedAtMs } : {}),
        ...(sup ? { supervised: sup } : {}),
      };
    }
    if (!known) {
      const detail = containers ? "unknown (Docker error)" : "Docker unreachable";
      return { ...base, running: undefined, crashed: false, detail };
    }
    const c = known.get(env.name)?.get(svc.name);
    if (!c) return { ...base, running: false, crashed: false, detail: "-" };
    // A service others need to complete is done once it exited with 0.
    if (jobs.has(svc.name) && !c.running && c.exitCode === 0) {
      return { ...base, running: true, crashed: false, detail: `container ${c.id} completed` };
    }
    const many = (c.count ?? 1) > 1 ? `${c.count} containers, ` : "";
    return {
      ...base,
      running: c.running,
      crashed: !c.running,
      detail: c.running ? `${many}container ${c.id}` : `${many}container ${c.status}`,
    };
  });

  const warnings: string[] = [];
  for (const s of services) {
    if (s.running === undefined) continue;
    const sup = s.supervised;
    if (s.expected && s.running && sup?.healthy === false) {
      warnings.push(`${s.name} unhealthy`);
    } else if (s.expected && !s.running && sup?.phase === "failed") {
      warnings.push(`${s.name} failed (${sup.reason ?? "gave up"})`);
    } else if (
      s.expected &&
      !s.running &&
      (sup?.phase === "backoff" || sup?.phase === "starting")
    ) {
      const due = sup.nextRetryAtMs !== undefined ? Math.max(0, sup.nextRetryAtMs - Date.now()) : 0;
      warnings.push(
        `${s.name} died; the supervisor restarts it${due > 0 ? ` in ${Math.ceil(due / 1000)}s` : " now"}`,
      );
    } else if (s.expected && !s.running) {
      warnings.push(
        s.crashed
          ? `${s.name} ${s.type === "process" ? "died" : "exited"}`
          : `${s.name} not running`,
      );
    } else if (!s.expected && s.running) {
      warnings.push(`${s.name} running while the env is ${desired}`);
    }
  }
  if (!known && env.services.some((s) => s.type === "container")) {
    warnings.push(
      containers instanceof DockerTrouble
        ? `Docker: ${containers.reason}`
        : "Docker is not reachable",
    );
  }
  return {
    desired,
    actual: warnings.length === 0 ? desired : derive(env, services),
    warnings,
    services,
  };
}

/** The env's supervisor's statuses, when it runs (a dead one's file says nothing now). */
function supervisorState(stateDir: string): SupervisorState | undefined {
  if (!daemonStatus(stateDir, SUPERVISOR).running) return undefined;
  return readSupervisorState(stateDir);
}

/** dust-hive's table: nothing runs -> stopped; only cold services -> cold; any other -> warm. */
function derive(env: ResolvedEnv, services: ServiceReality[]): EnvState {
  const cold = new Set(env.services.filter((s) => s.cold).map((s) => s.name));
  const up = services.filter((s) => s.running);
  if (up.length === 0) return "stopped";
  return up.some((s) => !cold.has(s.name)) ? "warm" : "cold";
}

/**
 * Daemons append to their logs for as long as they run; every command that changes an env
 * (up, spawn, the lifecycle verbs) truncates logs past 100 MB, keeping their last lines. Commands
 * that only look (list, status, logs) never do: they write nothing.
 */
export function trimLogs(env: ResolvedEnv): void {
  for (const s of env.services) {
    if (s.type === "process") {
      try {
        truncateLogIfLarge(path.join(env.stateDir, `${s.name}.log`));
      } catch {
        // unreadable or vanished: nothing to trim
      }
    }
  }
}
