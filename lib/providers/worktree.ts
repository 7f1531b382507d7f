import * as fs from "node:fs";
import * as path from "node:path";
import { simpleGit } from "simple-git";
import { FORCE_VAR } from "../core/names";
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

/** Work in a worktree that exists nowhere else: uncommitted files, commits on no other ref. */
export interface UnsavedWork {
  /** `git status --porcelain` lines. */
  files: string[];
  /** Commits on the env's branch that no other branch, tag or remote branch holds. */
  commits: number;
}

export async function unsavedWork(outs: WorktreeInputs): Promise<UnsavedWork> {
  const none = { files: [], commits: 0 };
  if (!fs.existsSync(outs.dir) || !fs.existsSync(outs.repo)) return none;
  const files = (await simpleGit(outs.dir).raw(["status", "--porcelain"]))
    .split("\n")
    .filter((l) => l.trim() !== "");
  let commits = 0;
  if (await branchExists(outs.repo, outs.branch)) {
    const out = await simpleGit(outs.repo).raw([
      "rev-list",
      "--count",
      `refs/heads/${outs.branch}`,
      "--not",
      `--exclude=${outs.branch}`,
      "--branches",
      "--tags",
      "--remotes",
    ]);
    commits = Number(out.trim()) || 0;
  }
  return { files, commits };
}

/** Why removing this worktree would lose work, or undefined when nothing would be lost. */
export function lossReason(dir: string, branch: string, work: UnsavedWork): string | undefined {
  const what = [
    work.files.length > 0 ? `${work.files.length} uncommitted file(s)` : "",
    work.commits > 0 ? `${work.commits} commit(s) on ${branch} that no other branch holds` : "",
  ].filter(Boolean);
  if (what.length === 0) return undefined;
  return `worktree ${dir} has ${what.join(" and ")}`;
}

/**
 * Removes the worktree: refused while it holds work that exists nowhere else, unless the
 * engine runs for `envctl destroy --force`. The branch is deleted only when it holds no commits
 * beyond the commit it started from, so work committed on it is never lost.
 */
export async function deleteWorktree(outs: WorktreeOutputs): Promise<void> {
  if (!fs.existsSync(outs.repo)) return;
  if (process.env[FORCE_VAR] !== "1") {
    const loss = lossReason(outs.dir, outs.branch, await unsavedWork(outs));
    if (loss) {
      throw new Error(
        `${loss}; removing it would lose that work: commit and push it (or move it to another ` +
          `branch), or run \`envctl destroy ${path.basename(outs.dir)} --force\``,
      );
    }
  }
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
  async diff(id, olds, news) {
    const res = await replaceOnAnyChange(worktreeKeys)(id, olds, news);
    // A replace deletes the worktree first: refuse it while the worktree holds unsaved work.
    const outs = olds as unknown as WorktreeOutputs;
    const loss = res.changes
      ? lossReason(outs.dir, outs.branch, await unsavedWork(outs))
      : undefined;
    if (loss) {
      const changed = (res.replaces ?? []).join(", ");
      throw new Error(
        `${loss}; changing ${changed} would replace the worktree and lose that work: commit and ` +
          `push it (or move it to another branch) first, or run \`envctl destroy ` +
          `${path.basename(outs.dir)} --force\` and up again`,
      );
    }
    return res;
  },
  delete: (_id, props) => deleteWorktree(props as unknown as WorktreeOutputs),
  async read(id, props) {
    return (await worktreeExists(props as unknown as WorktreeOutputs)) ? { id, props } : undefined;
  },
};
