/** What a devenv needs before its stack is updated: a usable repo and its catalog row. */
import * as fs from "node:fs";
import type { Catalog, EnvStatus } from "../../catalog/catalog";
import { badInput } from "../../core/errors";
import { specHash } from "../../spec/load";
import type { EnvSpec, ResolvedEnv } from "../../spec/model";

/** The spec's repo must be a git repository holding the base ref: checked before anything is created. */
export async function checkRepo(spec: EnvSpec): Promise<void> {
  if (!fs.existsSync(spec.repo)) throw badInput(`repo: ${spec.repo} does not exist`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { simpleGit } = require("simple-git") as typeof import("simple-git");
  const git = simpleGit(spec.repo);
  if (!(await git.checkIsRepo())) throw badInput(`repo: ${spec.repo} is not a git repository`);
  try {
    await git.revparse(["--verify", `${spec.base}^{commit}`]);
  } catch {
    throw badInput(`base: "${spec.base}" is not a branch or commit in ${spec.repo}`);
  }
}

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
    host: "localhost",
    worktreePath: env.worktreeDir,
    branch: env.branch,
    block: env.block,
    status,
    outputs: catalog.getEnv(env.name)?.outputs ?? null,
  });
}
