/** What a devenv needs before anything is created: a usable repo holding the base ref. */
import * as fs from "node:fs";
import { badInput } from "../../core/errors";
import type { EnvSpec } from "../../spec/model";

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
