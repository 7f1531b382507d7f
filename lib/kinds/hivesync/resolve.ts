import type { Home } from "../../core/home";
import type { EnvSpec, EnvState, ResolvedEnv } from "../../spec/model";
import { resolveEnv } from "../devenv/resolve";
import { withProxy } from "./proxy";
import { splitSecrets } from "./secrets";

/** Options of one resolve that are not part of the spec. */
export interface HivesyncResolveOptions {
  /** Variables whose values come from generated secrets (`--generate-secrets`, or kept). */
  generate?: readonly string[];
}

/**
 * A hivesync env is a devenv of the app's compose project (worktree at the deployed revision,
 * port block, services) whose secret values are tokens (secrets.ts), plus its deploy steps and
 * health check.
 */
export function resolveHivesync(
  name: string,
  spec: EnvSpec,
  block: number,
  home: Home,
  state: EnvState = "warm",
  opts: HivesyncResolveOptions = {},
): ResolvedEnv {
  const h = spec.hivesync;
  if (!h) throw new Error("a hivesync spec without its hivesync settings");
  const env = resolveEnv(name, spec, block, home, state);
  const services = h.proxy ? withProxy(env.services, h.proxy) : env.services;
  const split = splitSecrets(services, h.secrets, opts.generate ?? []);
  return {
    ...env,
    kind: "hivesync",
    services: split.services,
    hivesync: {
      target: h.target,
      ...(h.proxy ? { proxy: h.proxy } : {}),
      deploy: h.deploy,
      health: h.health,
      secrets: Object.keys(split.values).sort(),
      generated: split.generated,
    },
  };
}

/** The values of the env's secret tokens: what the stack's `envctl:secrets` config holds. */
export function hivesyncSecrets(
  name: string,
  spec: EnvSpec,
  block: number,
  home: Home,
  opts: HivesyncResolveOptions = {},
): Record<string, string> {
  const env = resolveEnv(name, spec, block, home);
  return splitSecrets(env.services, spec.hivesync?.secrets ?? [], opts.generate ?? []).values;
}
