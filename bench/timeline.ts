/**
 * What Docker saw during one timed command, for bench/compose.ts: container create, start,
 * health and removal events (the engine's own nanosecond timestamps, the same clock as
 * Date.now() on this host), turned into the parts of the command's wall time. Compose and envctl
 * are measured by the same events, so their parts compare directly. Docker keeps only its last
 * 256 events and health checks add several per second, so the recorder follows the stream live.
 */
import { docker } from "../lib/docker/client";
import { median, run, type Cmd, type RunOutput } from "./support";

export interface DockerEvent {
  /** Epoch ms (from timeNano). */
  at: number;
  type: "container" | "network";
  /** create, start, kill, die, stop, destroy; `healthy` for `health_status: healthy`. */
  action: string;
  /** The service a container belongs to (its compose or envctl label); the network's name. */
  service: string;
}

/** Which containers and networks one side's events are about. */
export interface EventScope {
  /** The container label holding the service name: `com.docker.compose.service`, `envctl.service`. */
  serviceLabel: string;
  /** label=value every container of the side carries. */
  label: [string, string];
  network: string;
}

const CONTAINER_EVENTS = ["create", "start", "health_status", "kill", "die", "stop", "destroy"];

interface RawEvent {
  Type?: string;
  Action?: string;
  timeNano?: number;
  Actor?: { Attributes?: Record<string, string> };
}

/** A live subscription: `stop()` ends it and returns what arrived, oldest first. */
export async function recordEvents(scope: EventScope): Promise<{ stop(): Promise<DockerEvent[]> }> {
  const stream = (await docker().getEvents({
    filters: { type: ["container", "network"], event: CONTAINER_EVENTS },
  })) as NodeJS.ReadableStream & { destroy(): void };
  const events: DockerEvent[] = [];
  let pending = "";
  const take = (line: string): void => {
    if (!line.trim()) return;
    const e = JSON.parse(line) as RawEvent;
    const attrs = e.Actor?.Attributes ?? {};
    const at = Number(BigInt(e.timeNano ?? 0) / 1000n) / 1000;
    if (e.Type === "container" && attrs[scope.label[0]] === scope.label[1]) {
      const action = e.Action?.startsWith("health_status")
        ? e.Action.replace("health_status: ", "")
        : (e.Action ?? "");
      events.push({ at, type: "container", action, service: attrs[scope.serviceLabel] ?? "?" });
    } else if (e.Type === "network" && attrs.name === scope.network) {
      events.push({ at, type: "network", action: e.Action ?? "", service: scope.network });
    }
  };
  stream.on("data", (chunk: Buffer | string) => {
    const lines = (pending + chunk.toString()).split("\n");
    pending = lines.pop() ?? "";
    lines.forEach(take);
  });
  return {
    async stop() {
      // Events reach the stream a few ms after they happen; the command has already exited.
      await new Promise((r) => setTimeout(r, 250));
      stream.destroy();
      return events.sort((a, b) => a.at - b.at);
    },
  };
}

/** One service's container during an up: epoch ms of each step. */
export interface ServiceTimes {
  create: number;
  start: number;
  healthy: number;
}

/** An up (compose up --wait, envctl warm) in parts, ms. */
export interface UpParts {
  /** Command start to the first container start: CLI, engine, network and creates. */
  before: number;
  /** First container start to the last healthy: the services. */
  services: number;
  /** Last healthy to exit. */
  after: number;
  /** Per service: start to healthy (Docker's checks) and, for those with upstreams, its gate. */
  health: Record<string, number>;
  /** Last upstream healthy to this service's start: how fast the tool reacts to health. */
  gate: Record<string, number>;
  /** Its create to its start (compose creates every container up front; envctl at the gate). */
  createToStart: Record<string, number>;
  /** The chain that decided `services`: service names, last first. */
  critical: string[];
}

export function serviceTimes(events: DockerEvent[]): Map<string, ServiceTimes> {
  const out = new Map<string, Partial<ServiceTimes>>();
  for (const e of events) {
    if (e.type !== "container") continue;
    const t = out.get(e.service) ?? {};
    if (e.action === "create" && t.create === undefined) t.create = e.at;
    if (e.action === "start" && t.start === undefined) t.start = e.at;
    if (e.action === "healthy" && t.healthy === undefined) t.healthy = e.at;
    out.set(e.service, t);
  }
  const done = new Map<string, ServiceTimes>();
  for (const [s, t] of out) {
    if (t.create === undefined || t.start === undefined || t.healthy === undefined) {
      throw new Error(`docker events: service ${s} has no create, start or healthy event`);
    }
    done.set(s, t as ServiceTimes);
  }
  return done;
}

/**
 * The parts of an up that started at `t0` (epoch ms) and took `ms`, from its Docker events;
 * `deps` is each service's depends_on.
 */
export function upParts(
  events: DockerEvent[],
  t0: number,
  ms: number,
  deps: Record<string, string[]>,
): UpParts {
  const times = serviceTimes(events);
  for (const s of Object.keys(deps)) {
    if (!times.has(s)) throw new Error(`docker events: nothing about service ${s}`);
  }
  const all = [...times.values()];
  const firstStart = Math.min(...all.map((t) => t.start));
  const lastHealthy = Math.max(...all.map((t) => t.healthy));
  const parts: UpParts = {
    before: firstStart - t0,
    services: lastHealthy - firstStart,
    after: t0 + ms - lastHealthy,
    health: {},
    gate: {},
    createToStart: {},
    critical: [],
  };
  for (const [s, t] of times) {
    parts.health[s] = t.healthy - t.start;
    parts.createToStart[s] = t.start - t.create;
    const up = deps[s] ?? [];
    if (up.length > 0) parts.gate[s] = t.start - Math.max(...up.map((d) => times.get(d)!.healthy));
  }
  // Back from the last service healthy, through the upstream that turned healthy last.
  let cur = [...times.entries()].sort((a, b) => b[1].healthy - a[1].healthy)[0]![0];
  for (;;) {
    parts.critical.push(cur);
    const up = deps[cur] ?? [];
    if (up.length === 0) break;
    cur = up.reduce((a, b) => (times.get(a)!.healthy >= times.get(b)!.healthy ? a : b));
  }
  return parts;
}

/** A down (compose down, envctl cool) in parts, ms. */
export interface DownParts {
  /** Command start to the first container stopped or killed. */
  before: number;
  /** First kill to the last container removed. */
  removing: number;
  /** Last container removed to exit (compose removes its network in this part). */
  after: number;
}

export function downParts(events: DockerEvent[], t0: number, ms: number): DownParts {
  const c = events.filter((e) => e.type === "container");
  const first = c.find((e) => ["kill", "stop", "die", "destroy"].includes(e.action));
  const last = c.filter((e) => e.action === "destroy").at(-1);
  if (!first || !last) throw new Error("docker events: the down removed no container");
  return {
    before: first.at - t0,
    removing: last.at - first.at,
    after: t0 + ms - last.at,
  };
}

/** The median of `xs` (ms) in seconds, two decimals (the gaps are a few hundred ms): `1.25 s`. */
export function sec(xs: number[]): string {
  return xs.length === 0 ? "-" : `${(median(xs) / 1000).toFixed(2)} s`;
}

/** Median of one per-service figure over runs. */
export function perService(
  runs: UpParts[],
  key: "health" | "gate" | "createToStart",
  service: string,
): number[] {
  return runs.map((r) => r[key][service]).filter((x): x is number => x !== undefined);
}

/** The side's containers: name and status (`Up 2 seconds (healthy)`). */
export async function containersOf(scope: EventScope): Promise<{ name: string; status: string }[]> {
  const list = await docker().listContainers({
    all: true,
    filters: { label: [`${scope.label[0]}=${scope.label[1]}`] },
  });
  return list.map((c) => ({ name: c.Names[0]?.replace(/^\//, "") ?? c.Id, status: c.Status }));
}

export async function expectHealthy(
  scope: EventScope,
  count: number,
  after: string,
): Promise<void> {
  const cs = await containersOf(scope);
  const healthy = cs.filter((c) => /^Up .*\(healthy\)$/.test(c.status));
  if (healthy.length !== count || cs.length !== count) {
    throw new Error(
      `after ${after}, expected ${count} healthy containers, found: ${JSON.stringify(cs)}`,
    );
  }
}

export async function expectGone(scope: EventScope, after: string): Promise<void> {
  const cs = await containersOf(scope);
  if (cs.length > 0) throw new Error(`after ${after}, containers remain: ${JSON.stringify(cs)}`);
}

/** Runs `cmd` while recording the side's Docker events; t0 is the epoch ms it started at. */
export async function recorded(
  cmd: Cmd,
  scope: EventScope,
): Promise<{ out: RunOutput; events: DockerEvent[]; t0: number }> {
  const rec = await recordEvents(scope);
  const t0 = Date.now();
  let out: RunOutput;
  try {
    out = await run(cmd);
  } catch (err) {
    await rec.stop();
    throw err;
  }
  return { out, events: await rec.stop(), t0 };
}
