/**
 * What a shell command line runs, checked without running it: split into simple commands, the
 * program that matters picked out past assignments, builtins, wrappers and `cd`, then looked up
 * on PATH or in the repo at the spec's base (a RepoTree; validate.ts's gitTree makes one).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ENV_VAR_RE } from "./schema";
import type { SpecIssue } from "./model";
import { shellWords, type Word } from "../core/shell";
import { findOnPath } from "../core/toolchain";

export interface Findings {
  errors: SpecIssue[];
  warnings: SpecIssue[];
}

// ---------------------------------------------------------------------------------------------
// files: PATH lookups and the repo as the worktree will see it

/** Whether `file` is a regular file with an execute bit. */
export function isExecutableFile(file: string): boolean {
  try {
    const st = fs.statSync(file);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

export type EntryKind = "dir" | "file" | "executable" | "symlink";

/** The repo as a new worktree checks it out: the tree of one commit. */
export interface RepoTree {
  /** The repo's directory on disk. */
  root: string;
  /** The branch or commit the worktree starts from. */
  ref: string;
  /** What is at `rel` (relative to the repo root; "." is the root) in that commit. */
  entry(rel: string): EntryKind | undefined;
}

/** ` (it exists in REPO but is not committed)` when that is why the tree lacks `rel`. */
export function uncommitted(tree: RepoTree, rel: string): string {
  return fs.existsSync(path.join(tree.root, rel))
    ? ` (it exists in ${tree.root} but is not committed)`
    : "";
}

/** A problem with a working directory relative to the worktree root, or undefined. */
export function dirIssue(at: string, dir: string, tree: RepoTree): SpecIssue | undefined {
  const kind = tree.entry(dir);
  if (kind === "dir") return undefined;
  const message =
    kind === undefined
      ? `no directory "${dir}" in the repo at ${tree.ref}${uncommitted(tree, dir)}`
      : `"${dir}" is a file, not a directory, in the repo at ${tree.ref}`;
  return { path: at, message };
}

// ---------------------------------------------------------------------------------------------
// the program a command runs

/**
 * Builtins, and utilities every system has, that run before the program a command is about
 * (`mkdir -p logs && ./run`): skipped to find the one that matters.
 */
const BUILTINS = new Set([
  ...": true false echo printf export set unset test [ [[ read trap wait ulimit".split(" "),
  ..."umask shift eval alias unalias hash local readonly declare typeset shopt".split(" "),
  ...["exit", "return", "break", "continue", "getopts", "type", "times", "kill"],
  ...["pwd", "mkdir", "sleep"],
]);
/** Words that run the rest of the command: the program is the next word. */
const WRAPPERS = new Set(["exec", "command", "nohup", "time", "env", "!", "if", "then"]);
const OPENERS = new Set(["while", "until", "do", "else", "elif", "{"]);
const CLOSERS = new Set(["fi", "done", "}", "esac"]);
/** Compound commands whose first word is not a program: the analysis stops there. */
const COMPOUND = new Set(["for", "case", "select", "function"]);

export interface CommandContext {
  /** PATH the command runs with. */
  pathVar: string;
  /** The repo at the spec's base; relative programs are looked up there. */
  tree?: RepoTree;
  /** Directory the command starts in, relative to the worktree root. */
  dir: string;
  /** The user's home, for hints such as ~/.cargo/bin. */
  homeDir?: string;
  /** env.sh or the service's env changes PATH: missing programs are only warnings then. */
  pathChanged?: boolean;
}

/**
 * Checks the first program a command line runs: leading `VAR=value` assignments, builtins and
 * `cd` are skipped (`cd` moves the directory relative programs are looked up in). A bare name
 * must resolve on PATH; a path (`./run.sh`, `bin/dev`) must be an executable file in the repo
 * at the base. `npx TOOL` and `cargo` get a closer look. After a `source`/`.`, a name that is
 * not on PATH may be a shell function (nvm), so it is a warning and the next command is checked.
 */
export function commandIssues(at: string, cmd: string, ctx: CommandContext): Findings {
  const found: Findings = { errors: [], warnings: [] };
  let dir: string | undefined = ctx.dir;
  let sourced: string | undefined;
  for (const words of shellWords(cmd, { operators: true }).commands) {
    const rest = programWords(words);
    if (rest === undefined) return found; // the shell decides what runs
    const head = rest[0];
    if (head === undefined || CLOSERS.has(head.text) || BUILTINS.has(head.text)) continue;
    if (head.text === "cd") {
      const target = rest[1];
      if (target === undefined || target.dynamic || /^[~/-]/.test(target.text)) {
        dir = undefined; // somewhere we cannot follow: relative programs are not checked
      } else if (dir !== undefined) {
        const next = path.posix.join(dir, target.text);
        const problem = ctx.tree && dirIssue(at, next, ctx.tree);
        if (problem) {
          found.errors.push({ ...problem, message: `cd ${target.text}: ${problem.message}` });
          return found;
        }
        dir = next;
      }
      continue;
    }
    if (head.text === "source" || head.text === ".") {
      sourced = rest[1]?.text ?? "a sourced file";
      continue;
    }
    const problem = programIssue(at, head.text, rest.slice(1), { ...ctx, dir });
    if (problem?.missing && sourced !== undefined) {
      found.warnings.push({
        path: at,
        message: `"${head.text}" is not on PATH; fine if it is a shell function from ${sourced}`,
      });
      continue;
    }
    if (problem) (problem.severity === "error" ? found.errors : found.warnings).push(problem.issue);
    return found;
  }
  return found;
}

/**
 * The words from the program on: assignments, wrappers (`exec`, `env`, `nohup`) and keywords
 * that open a block are dropped; undefined when the program is decided at run time.
 */
function programWords(words: Word[]): Word[] | undefined {
  let rest = words;
  for (;;) {
    while (rest[0] && isAssignment(rest[0])) rest = rest.slice(1);
    const head = rest[0];
    if (head === undefined) return rest;
    if (head.dynamic || COMPOUND.has(head.text)) return undefined;
    if (head.text === "command" && /^-[vV]$/.test(rest[1]?.text ?? "")) return []; // a lookup
    if (!WRAPPERS.has(head.text) && !OPENERS.has(head.text)) return rest;
    rest = rest.slice(1);
    while (head.text !== "!" && rest[0]?.text.startsWith("-")) rest = rest.slice(1);
  }
}

function isAssignment(w: Word): boolean {
  const eq = w.text.indexOf("=");
  return eq > 0 && ENV_VAR_RE.test(w.text.slice(0, eq));
}

interface ProgramProblem {
  severity: "error" | "warning";
  issue: SpecIssue;
  /** The program is a bare name that is not on PATH. */
  missing?: boolean;
}

function programIssue(
  at: string,
  program: string,
  args: Word[],
  ctx: Omit<CommandContext, "dir"> & { dir: string | undefined },
): ProgramProblem | undefined {
  if (program.includes("/")) return pathProgramIssue(at, program, ctx);
  const where = findOnPath(program, ctx.pathVar);
  if (!where) {
    const hint = installHint(program, ctx.homeDir ?? os.homedir());
    if (ctx.pathChanged) {
      return {
        severity: "warning",
        missing: true,
        issue: {
          path: at,
          message: `"${program}" is not on envctl's PATH; the spec changes PATH, so check it is there${hint}`,
        },
      };
    }
    return {
      severity: "error",
      missing: true,
      issue: { path: at, message: `"${program}" is not installed (not found on PATH)${hint}` },
    };
  }
  if (program === "npx") return npxIssue(at, args, ctx);
  if (program === "cargo" && ctx.tree && ctx.dir !== undefined) {
    const sub = args.find((a) => !a.text.startsWith("-"))?.text;
    if (sub && ["run", "build", "test", "check", "watch"].includes(sub)) {
      if (!ancestors(ctx.dir).some((d) => ctx.tree!.entry(path.posix.join(d, "Cargo.toml")))) {
        return {
          severity: "warning",
          issue: {
            path: at,
            message: `cargo ${sub}: no Cargo.toml in "${ctx.dir}" or above in the repo at ${ctx.tree.ref}`,
          },
        };
      }
    }
  }
  return undefined;
}

/** `dir`, its parents, up to the worktree root ("."). */
function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.posix.normalize(dir); ; d = path.posix.dirname(d)) {
    out.push(d);
    if (d === "." || d === "/" || d === "") return out;
  }
}

function installHint(program: string, homeDir: string): string {
  for (const dir of [".cargo/bin", ".bun/bin", ".local/bin", "go/bin"]) {
    if (isExecutableFile(path.join(homeDir, dir, program))) {
      return `; it is in ~/${dir}: add that to PATH`;
    }
  }
  return "";
}

function pathProgramIssue(
  at: string,
  program: string,
  ctx: Omit<CommandContext, "dir"> & { dir: string | undefined },
): ProgramProblem | undefined {
  if (program.startsWith("/")) {
    if (isExecutableFile(program)) return undefined;
    const why = fs.existsSync(program) ? "is not an executable file" : "does not exist";
    return { severity: "error", issue: { path: at, message: `"${program}" ${why}` } };
  }
  if (!ctx.tree || ctx.dir === undefined || program.startsWith("~")) return undefined;
  const rel = path.posix.normalize(path.posix.join(ctx.dir, program));
  if (rel.startsWith("../")) return undefined; // outside the worktree: not ours to check
  const kind = ctx.tree.entry(rel);
  const inRepo = `in the repo at ${ctx.tree.ref}`;
  if (kind === "executable" || kind === "symlink") return undefined;
  const message =
    kind === undefined
      ? `"${program}" does not exist ${inRepo} (${rel})${uncommitted(ctx.tree, rel)}`
      : kind === "dir"
        ? `"${program}" is a directory ${inRepo}`
        : `"${program}" is not executable ${inRepo}: chmod +x ${rel} and commit it`;
  return { severity: "error", issue: { path: at, message } };
}

/** npx runs a package's binary: the project's node_modules/.bin, else PATH, else a download. */
function npxIssue(
  at: string,
  args: Word[],
  ctx: Omit<CommandContext, "dir"> & { dir: string | undefined },
): ProgramProblem | undefined {
  let i = 0;
  while (i < args.length && args[i]!.text.startsWith("-")) {
    const flag = args[i]!.text;
    i += flag === "-p" || flag === "--package" || flag === "-c" ? 2 : 1;
    if (flag === "-c" || flag === "--call" || flag.startsWith("--package") || flag === "-p") {
      return undefined; // the package or script is named by a flag: npx decides
    }
  }
  const tool = args[i];
  if (!tool || tool.dynamic || tool.text.includes("@") || tool.text.includes("/")) return undefined;
  if (findOnPath(tool.text, ctx.pathVar)) return undefined;
  if (ctx.dir !== undefined) {
    const root = ctx.tree?.root;
    for (const d of ancestors(ctx.dir)) {
      if (root && isExecutableFile(path.join(root, d, "node_modules", ".bin", tool.text))) {
        return undefined;
      }
    }
  }
  return {
    severity: "warning",
    issue: {
      path: at,
      message: `npx ${tool.text}: "${tool.text}" is not in node_modules/.bin or on PATH, so npx will try to download it (run npm install first)`,
    },
  };
}
