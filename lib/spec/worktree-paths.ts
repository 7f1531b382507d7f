/**
 * Where a spec's paths land in an env's worktree. A worktree is a checkout of the whole repo,
 * so a path means the same place in it as in the checkout the spec was read from: a spec at
 * `presets/demo/envctl.yaml` with `build: ./db` builds `<worktree>/presets/demo/db`, as compose
 * resolves paths from the compose file's directory. Paths outside the checkout stay as written.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The top level of the git checkout holding `dir`: the nearest directory up from it with a
 * `.git` (a directory, or a file in linked worktrees and submodules). Undefined when `dir` does
 * not exist or is in no checkout. Walks the path as given (no realpath), so `path.relative`
 * against other paths the spec names stays meaningful.
 */
export function checkoutRoot(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, ".git"))) return d;
    if (path.dirname(d) === d) return undefined;
  }
}

/** `p` relative to `root` as a posix path ("." for the root itself); undefined outside it. */
export function inCheckout(root: string, p: string): string | undefined {
  const rel = path.relative(root, p);
  if (rel === "") return ".";
  if (rel === ".." || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep).join("/");
}

/** A host path inside the checkout `root` -> the same place in the worktree; others stay. */
export function inWorktree(p: string, root: string, worktreeDir: string): string {
  const rel = inCheckout(root, p);
  return rel === undefined ? p : path.join(worktreeDir, rel);
}

/**
 * A working directory written relative to the spec (`prefix`: the spec's directory in the
 * checkout, "." at its top) as a path relative to the worktree root; `..` may climb out of
 * `prefix`. At the top it stays as written (so such specs resolve exactly as they always did),
 * and absolute ones stay for the rule check (`outsideWorktree`) to reject.
 */
export function fromSpecDir(prefix: string, dir: string): string {
  if (prefix === "." || dir.startsWith("/")) return dir;
  return path.posix.normalize(path.posix.join(prefix, dir));
}

/** Whether a worktree-relative dir (from `fromSpecDir`) leads outside the worktree. */
export function outsideWorktree(dir: string): boolean {
  const d = path.posix.normalize(dir);
  return d.startsWith("/") || d === ".." || d.startsWith("../");
}
