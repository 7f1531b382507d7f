/**
 * dust-hive's lifecycle, generalized: which services each state runs, which transitions the
 * verbs allow, and what a desired state looks like in reality.
 */
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
