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

/** Services the state runs: warm -> all, cold -> the cold ones, stopped -> none. */
export function runningServices(services: Svc[], state: EnvState): Set<string> {
  if (state === "stopped") return new Set();
  return new Set(services.filter((s) => state === "warm" || s.cold).map((s) => s.name));
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
  const leaving = new Set([...before].filter((n) => !after.has(n)).map((n) => `${name}-${n}`));
  const roots = held.filter(
    (r) =>
      (SERVICE_TYPES.has(r.type) && leaving.has(urnName(r.urn))) ||
      (r.type === INIT_TYPE && from === "warm" && to !== "warm"),
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
  env: { state: EnvState; services: Svc[] },
): Record<string, unknown> {
  const running = runningServices(env.services, env.state);
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
