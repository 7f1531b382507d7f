/**
 * dust-hive's lifecycle, generalized: which services each state runs, which transitions the
 * verbs allow, and what a desired state looks like in reality.
 */
import { urnName } from "../../engine/progress";
import type { EnvState } from "../../spec/model";

interface Svc {
  name: string;
  cold: boolean;
  dependsOn: string[];
}

/**
 * Services the state runs: warm -> all (or, after `warm NAME SERVICE...` / `cool NAME
 * SERVICE...`, the cold ones and `only`), cold -> the cold ones, stopped -> none.
 */
export function runningServices(services: Svc[], state: EnvState, only?: string[]): Set<string> {
  if (state === "stopped") return new Set();
  const warm = (s: Svc): boolean =>
    state === "warm" && (only === undefined || only.includes(s.name));
  return new Set(services.filter((s) => s.cold || warm(s)).map((s) => s.name));
}

/** `names` and everything that depends on them, transitively (what stops with them). */
export function downstreamClosure(services: Svc[], names: string[]): Set<string> {
  const out = new Set<string>();
  const visit = (n: string): void => {
    if (out.has(n)) return;
    out.add(n);
    for (const s of services) if (s.dependsOn.includes(n)) visit(s.name);
  };
  names.forEach(visit);
  return out;
}

/**
 * The desired state after `warm NAME SERVICE...`: warm, running what ran already plus the named
 * services and everything they need. Undefined `only`: every service (a plain warm).
 */
export function warmSome(
  services: Svc[],
  state: EnvState,
  only: string[] | undefined,
  names: string[],
): { state: EnvState; only?: string[] } {
  if (state === "warm" && only === undefined) return { state };
  const before = state === "warm" ? (only ?? []) : [];
  const wanted = new Set([...before, ...upstreamClosure(services, names)]);
  const next = services.filter((s) => !s.cold && wanted.has(s.name)).map((s) => s.name);
  const all = services.filter((s) => !s.cold).map((s) => s.name);
  return next.length === all.length ? { state: "warm" } : { state: "warm", only: next };
}

/**
 * The desired state after `cool NAME SERVICE...`: the named services and their dependents
 * stop; the rest keeps running. Nothing warm left: the env is cold.
 */
export function coolSome(
  services: Svc[],
  only: string[] | undefined,
  names: string[],
): { state: EnvState; only?: string[]; stopping: string[] } {
  const leaving = downstreamClosure(services, names);
  const base = only ?? services.filter((s) => !s.cold).map((s) => s.name);
  const next = base.filter((n) => !leaving.has(n));
  const stopping = base.filter((n) => leaving.has(n));
  return next.length === 0 ? { state: "cold", stopping } : { state: "warm", only: next, stopping };
}

/** `names` and everything they depend on, transitively. */
export function upstreamClosure(services: Svc[], names: string[]): Set<string> {
  const byName = new Map(services.map((s) => [s.name, s]));
  const out = new Set<string>();
  const visit = (n: string): void => {
    if (out.has(n) || !byName.has(n)) return;
    out.add(n);
    for (const d of byName.get(n)!.dependsOn) visit(d);
  };
  names.forEach(visit);
  return out;
}

export type Verb = "warm" | "cool" | "start" | "stop";

export const VERB_TARGET: Record<Verb, EnvState> = {
  warm: "warm",
  cool: "cold",
  start: "cold",
  stop: "stopped",
};

/**
 * Why `verb` cannot run from `from`, or undefined when it can. Re-running `warm` on a warm env
 * (or `start` on a cold one) is allowed: it restarts whatever died.
 */
export function transitionProblem(verb: Verb, from: EnvState, name: string): string | undefined {
  switch (verb) {
    case "warm":
      return from === "stopped"
        ? `env ${name} is stopped: run \`envctl start ${name}\` first, then warm it`
        : undefined;
    case "cool":
      if (from === "cold")
        return `env ${name} is already cold (warm it first with \`envctl warm ${name}\`)`;
      if (from === "stopped") return `env ${name} is stopped; there is nothing to cool`;
      return undefined;
    case "start":
      return from === "warm"
        ? `env ${name} is warm, it is already started (\`envctl cool ${name}\` goes back to cold)`
        : undefined;
    case "stop":
      return from === "stopped" ? `env ${name} is already stopped` : undefined;
  }
}

/** What leavingResources needs of a checkpoint's resource. */
interface Held {
  urn: string;
  type: string;
  parent?: string;
}

/** The component types a service is registered as (components/devenv/devenv.ts). */
const SERVICE_TYPES = new Set(["envctl:devenv:ContainerService", "envctl:devenv:ProcessService"]);
/** First-warm init (components/devenv/devenv.ts `makeInit`): registered only while warm. */
const INIT_TYPE = "pulumi-nodejs:dynamic/envctl:Init";
const SUPERVISOR_TYPE = "pulumi-nodejs:dynamic/envctl:Supervisor";
const ROUTES_TYPE = "pulumi-nodejs:dynamic/envctl:LocalRoutes";
/** A hivesync env's deploy steps and health check: registered while it is warm only. */
const DEPLOY_TYPE = "envctl:hivesync:DeployGate";

/**
 * The URNs the devenv program stops registering when env `name` goes from `from` to `to`, when
 * that only removes things: the service components of the services `from` runs and `to` does
 * not, everything under them, and first-warm init when leaving warm. Undefined when `to` runs a
 * service `from` does not (the program must run to create it). Every other resource is
 * registered the same in both states (the same inputs: the state reaches no resource), so a
 * targeted destroy of these leaves the stack as `pulumi up` with the new state would;
 * test/mock/devenv-states.test.ts checks that against the component graph.
 */
export function leavingResources(
  name: string,
  services: Svc[],
  from: EnvState,
  to: EnvState,
  held: Held[],
): string[] | undefined {
  const before = runningServices(services, from);
  const after = runningServices(services, to);
  if ([...after].some((n) => !before.has(n))) return undefined;
  // The supervisor's config and the routes change with what runs: the program decides them.
  if (held.some((r) => r.type === SUPERVISOR_TYPE || r.type === ROUTES_TYPE)) return undefined;
  const leaving = new Set([...before].filter((n) => !after.has(n)).map((n) => `${name}-${n}`));
  const roots = held.filter(
    (r) =>
      (SERVICE_TYPES.has(r.type) && leaving.has(urnName(r.urn))) ||
      ((r.type === INIT_TYPE || r.type === DEPLOY_TYPE) && from === "warm" && to !== "warm"),
  );
  const out = new Set(roots.map((r) => r.urn));
  // Descendants: a child is listed after its parent in a checkpoint, but don't rely on it.
  for (let grew = true; grew;) {
    grew = false;
    for (const r of held) {
      if (r.parent && out.has(r.parent) && !out.has(r.urn)) {
        out.add(r.urn);
        grew = true;
      }
    }
  }
  return held.map((r) => r.urn).filter((u) => out.has(u));
}

/**
 * The stack's outputs (which do not depend on the state) with what the desired state adds:
 * `state`, and whether it runs each service.
 */
export function withState(
  outputs: Record<string, unknown>,
  env: { state: EnvState; services: Svc[]; only?: string[] },
): Record<string, unknown> {
  const running = runningServices(env.services, env.state, env.only);
  const services = outputs.services as Record<string, Record<string, unknown>> | undefined;
  return {
    ...outputs,
    state: env.state,
    ...(services
      ? {
          services: Object.fromEntries(
            Object.entries(services).map(([n, s]) => [n, { ...s, running: running.has(n) }]),
          ),
        }
      : {}),
  };
}

/** The resource type of a service's container (components/shared/container-service.ts). */
const CONTAINER_TYPE = "pulumi-nodejs:dynamic/envctl:Container";
/** Resources whose delete does nothing: a container gone under them changes nothing. */
const INERT_TYPES = new Set(["pulumi-nodejs:dynamic/envctl:Ready", INIT_TYPE, ...SERVICE_TYPES]);

/** A container the CLI removes itself, and whether it is stopped (its signal, its grace) first. */
export interface EarlyRemoval {
  name: string;
  stop: boolean;
}

interface HeldWithState extends Held {
  dependencies?: string[];
  outputs?: Record<string, unknown>;
}

/**
 * The containers among `targets` (leavingResources) the CLI can remove while the engine starts,
 * in waves: no container of a wave has a dependent left for a later wave, so they go in reverse
 * dependency order, as `docker compose down` stops them. The targeted destroy that follows finds
 * them gone (the container handler's delete accepts that) and does the rest. Left to the
 * engine, with everything they depend on (so nothing stops under a dependent still running):
 * containers on another Docker host, ones with `pre_stop` hooks (run by the container handler),
 * and the upstreams of any leaving resource whose delete does something (a process service).
 */
export function earlyRemovals(targets: string[], held: HeldWithState[]): EarlyRemoval[][] {
  const byUrn = new Map(held.map((r) => [r.urn, r]));
  const leaving = held.filter((r) => targets.includes(r.urn));
  // The containers each leaving resource waits for, through gates and anything between.
  const upstream = new Map<string, Set<string>>();
  for (const r of leaving) {
    const seen = new Set<string>();
    const out = new Set<string>();
    const visit = (urn: string): void => {
      if (seen.has(urn)) return;
      seen.add(urn);
      const d = byUrn.get(urn);
      if (!d) return;
      if (d.type === CONTAINER_TYPE && urn !== r.urn) out.add(urn);
      d.dependencies?.forEach(visit);
    };
    r.dependencies?.forEach(visit);
    upstream.set(r.urn, out);
  }
  const props = (urn: string): Record<string, unknown> => byUrn.get(urn)?.outputs ?? {};
  const engineOnly = new Set<string>();
  const keep = (urn: string): void => {
    if (engineOnly.has(urn)) return;
    engineOnly.add(urn);
    upstream.get(urn)?.forEach(keep);
  };
  for (const r of leaving) {
    if (r.type !== CONTAINER_TYPE) {
      if (!INERT_TYPES.has(r.type)) upstream.get(r.urn)!.forEach(keep);
      continue;
    }
    const p = props(r.urn);
    const docker = (p.docker ?? {}) as { pre_stop?: unknown[] };
    if (typeof p.name !== "string" || p.dockerHost !== undefined || docker.pre_stop?.length) {
      keep(r.urn);
    }
  }
  let left = leaving
    .filter((r) => r.type === CONTAINER_TYPE && !engineOnly.has(r.urn))
    .map((r) => r.urn);
  const waves: EarlyRemoval[][] = [];
  while (left.length > 0) {
    const wave = left.filter((u) => !left.some((o) => upstream.get(o)!.has(u)));
    if (wave.length === 0) break; // a cycle cannot be registered; leave it to the engine
    waves.push(
      wave.map((u) => {
        const p = props(u);
        const d = (p.docker ?? {}) as { stop_signal?: unknown; stop_grace_period?: unknown };
        return { name: p.name as string, stop: Boolean(d.stop_signal || d.stop_grace_period) };
      }),
    );
    left = left.filter((u) => !wave.includes(u));
  }
  return waves;
}
