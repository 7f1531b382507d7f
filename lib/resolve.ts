import * as path from "node:path";
import type { Home } from "./home";
import { branchName } from "./naming";
import { blockBase, resolveServices } from "./ports";
import type { EnvSpec, ResolvedEnv } from "./spec/model";

/** Binds a validated spec to one env name, port block and home: the stack's config value. */
export function resolveEnv(name: string, spec: EnvSpec, block: number, home: Home): ResolvedEnv {
  const base = blockBase(block);
  return {
    name,
    kind: "devenv",
    home: home.root,
    block,
    base,
    repo: spec.repo,
    baseRef: spec.base,
    branch: branchName(name),
    worktreeDir: path.join(home.worktreesDir, name),
    services: resolveServices(spec.services, base),
  };
}
