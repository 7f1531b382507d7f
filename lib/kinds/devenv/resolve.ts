import * as path from "node:path";
import { envDir, type Home } from "../../core/home";
import { branchName } from "../../core/names";
import { blockBase, resolveServices } from "../../spec/ports";
import {
  RESOLVED_ENV_VERSION,
  type EnvSpec,
  type EnvState,
  type InitStep,
  type ResolvedEnv,
  type ResolvedService,
} from "../../spec/model";
import { shellQuote } from "../../core/shell";
import { renderEnvSh, renderTemplate, templateContext } from "../../spec/template";

/**
 * Binds a validated spec to one env name, port block, home and desired state: the stack's
 * config value. Templates are rendered here, so the program and its providers see plain values.
 */
export function resolveEnv(
  name: string,
  spec: EnvSpec,
  block: number,
  home: Home,
  state: EnvState = "warm",
): ResolvedEnv {
  const base = blockBase(block);
  const partial = {
    name,
    kind: "devenv" as const,
    home: home.root,
    block,
    base,
    repo: spec.repo,
    root: spec.root,
    baseRef: spec.base,
    branch: branchName(name),
    worktreeDir: path.join(home.worktreesDir, name),
    state,
    stateDir: envDir(home, name),
    services: resolveServices(spec.services, base),
    initAfter: spec.initAfter,
    ...(spec.volumes ? { volumes: spec.volumes } : {}),
    ...(spec.networks ? { networks: spec.networks } : {}),
    ...(spec.dev ? { dev: spec.dev } : {}),
  };
  const ctx = templateContext(partial);
  const render = (t: string): string => renderTemplate(t, ctx);
  const services = partial.services.map((s): ResolvedService => {
    const env = Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, render(v)]));
    return s.type === "process" ? { ...s, env, cmd: render(s.cmd) } : { ...s, env };
  });
  const init: InitStep[] = [];
  if (spec.temporal && spec.temporal.namespaces.length > 0) {
    const address = shellQuote(spec.temporal.address, { minimal: true });
    const script = spec.temporal.namespaces
      .map((n) => shellQuote(render(n), { minimal: true }))
      .map(
        (ns) =>
          `temporal operator namespace describe --address ${address} --namespace ${ns} >/dev/null 2>&1 || temporal operator namespace create --address ${address} --namespace ${ns}`,
      )
      .join("\n");
    init.push({ name: "temporal-namespaces", run: script, dir: "." });
  }
  init.push(...spec.init.map((st) => ({ ...st, run: render(st.run) })));
  return {
    schemaVersion: RESOLVED_ENV_VERSION,
    ...partial,
    services,
    envSh: renderEnvSh({ name, home: home.root }, spec.exports, ctx),
    init,
  };
}
