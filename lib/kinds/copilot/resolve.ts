import { createHash } from "node:crypto";
import type { Home } from "../../core/home";
import type { EnvSpec, EnvState, ResolvedEnv } from "../../spec/model";
import { resolveEnv } from "../devenv/resolve";

/**
 * A copilot env is a devenv of the preset's compose project (worktree, port block, services)
 * plus its AWS settings. The AWS names carry the env's name, so two envs of one spec never
 * share a bucket or a cluster.
 */
export function resolveCopilot(
  name: string,
  spec: EnvSpec,
  block: number,
  home: Home,
  state: EnvState = "warm",
): ResolvedEnv {
  const c = spec.copilot ?? { infra: "aws", projectName: "copilot", region: "eu-west-1" };
  return {
    ...resolveEnv(name, spec, block, home, state),
    kind: "copilot",
    copilot: { infra: c.infra, prefix: awsPrefix(c.projectName, name), region: c.region },
  };
}

/** S3 bucket names cap the knowledge base's prefix at 29 characters (components/copilot). */
export const MAX_PREFIX = 29;

/**
 * `<project_name>-<env>` in the characters every AWS name here takes; a longer one keeps its
 * start and a hash of the whole, so it stays unique per env.
 */
export function awsPrefix(projectName: string, env: string): string {
  const full = `${projectName}-${env}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
  if (full.length <= MAX_PREFIX) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 6);
  return `${full.slice(0, MAX_PREFIX - 7).replace(/-+$/, "")}-${hash}`;
}
