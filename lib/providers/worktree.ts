import * as fs from "node:fs";
import { simpleGit } from "simple-git";
import { replaceOnAnyChange, type Handler, type Props } from "./types";

/** Inputs of a Worktree resource: `git worktree add <dir> -b <branch> <base>` in `repo`. */
export interface WorktreeInputs {
  repo: string;
  dir: string;
  branch: string;
  base: string;
}

export interface WorktreeOutputs extends WorktreeInputs {
  /** Commit the branch started from. */
  baseCommit: string;
}

async function registeredWorktrees(repo: string): Promise<Map<string, string | undefined>> {
  const out = await simpleGit(repo).raw(["worktree", "list", "--porcelain"]);
  const result = new Map<string, string | undefined>();
  let current: string | undefined;
  for (const line of out.split("\n")) {
    if (line.startsWith("worktree ")) {
      current = fs.existsSync(line.slice(9)) ? fs.realpathSync(line.slice(9)) : line.slice(9);
      result.set(current, undefined);
    } else if (line.startsWith("branch ") && current) {
      result.set(current, line.slice(7).replace(/^refs\/heads\//, ""));
    }
  }
  return result;
}

async function branchExists(repo: string, branch: string): Promise<boolean> {
  const res = await simpleGit(repo).branchLocal();
  return res.all.includes(branch);
}

export async function createWorktree(inputs: WorktreeInputs): Promise<WorktreeOutputs> {
  const git = simpleGit(inputs.repo);
  const baseCommit = (await git.revparse([`${inputs.base}^{commit}`])).trim();
  const existing = fs.existsSync(inputs.dir)
    ? (await registeredWorktrees(inputs.repo)).get(fs.realpathSync(inputs.dir))
    : undefined;
  if (existing === inputs.branch) {
    // Adopt a worktree left by an interrupted create.
    return { ...inputs, baseCommit };
  }
  if (fs.existsSync(inputs.dir) && fs.readdirSync(inputs.dir).length > 0) {
    throw new Error(`worktree directory ${inputs.dir} already exists and is not empty`);
  }
  await git.raw(["worktree", "prune"]);
  if (await branchExists(inputs.repo, inputs.branch)) {
    await git.raw(["worktree", "add", inputs.dir, inputs.branch]);
  } else {
    await git.raw(["worktree", "add", "-b", inputs.branch, inputs.dir, baseCommit]);
  }
  return { ...inputs, baseCommit };
}

/**
 * Removes the worktree. The branch is deleted only when it holds no commits beyond the commit it
 * started from, so work committed on it is never lost.
 */
export async function deleteWorktree(outs: WorktreeOutputs): Promise<void> {
  if (!fs.existsSync(outs.repo)) return;
  const git = simpleGit(outs.repo);
  const registered = await registeredWorktrees(outs.repo);
  const real = fs.existsSync(outs.dir) ? fs.realpathSync(outs.dir) : outs.dir;
  if (registered.has(real)) {
    await git.raw(["worktree", "remove", "--force", outs.dir]);
  }
  fs.rmSync(outs.dir, { recursive: true, force: true });
  await git.raw(["worktree", "prune"]);
  if (await branchExists(outs.repo, outs.branch)) {
    const ahead = Number(
      (await git.raw(["rev-list", "--count", `${outs.baseCommit}..${outs.branch}`])).trim(),
    );
    if (ahead === 0) await git.raw(["branch", "-D", outs.branch]);
  }
}

/** Refresh: the worktree is gone if its directory is no longer a registered worktree. */
export async function worktreeExists(outs: WorktreeOutputs): Promise<boolean> {
  if (!fs.existsSync(outs.dir) || !fs.existsSync(outs.repo)) return false;
  return (await registeredWorktrees(outs.repo)).has(fs.realpathSync(outs.dir));
}

// ---------------------------------------------------------------------------------------------
// the handler

const worktreeKeys = ["repo", "dir", "branch", "base"];
export const worktree: Handler = {
  async create(inputs) {
    const outs = await createWorktree(inputs as unknown as WorktreeOutputs);
    return { id: outs.dir, outs: outs as unknown as Props };
  },
  diff: replaceOnAnyChange(worktreeKeys),
  delete: (_id, props) => deleteWorktree(props as unknown as WorktreeOutputs),
  async read(id, props) {
    return (await worktreeExists(props as unknown as WorktreeOutputs)) ? { id, props } : undefined;
  },
};
