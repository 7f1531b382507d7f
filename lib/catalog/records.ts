/** The catalog row of an env, made from what its stack is given. */
import { specHash } from "../spec/hash";
import type { EnvSpec, ResolvedEnv } from "../spec/model";
import type { Catalog, EnvStatus } from "./catalog";

/** Inserts or refreshes an env's catalog row before its stack is updated. */
export function recordEnv(
  catalog: Catalog,
  env: ResolvedEnv,
  spec: EnvSpec,
  status: EnvStatus,
): void {
  catalog.upsertEnv({
    name: env.name,
    kind: env.kind,
    specHash: specHash(spec),
    host: env.hostId ?? "localhost",
    worktreePath: env.worktreeDir,
    branch: env.branch,
    block: env.block,
    status,
    outputs: catalog.getEnv(env.name)?.outputs ?? null,
  });
}
