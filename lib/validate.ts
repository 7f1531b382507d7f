/**
 * `envctl validate`'s checks beyond the spec loader: which port block a new env would get and
 * which of its host ports are taken right now, whether the programs process services and init
 * steps run exist, and whether the directories they run in exist in the repo at the spec's base.
 * Nothing here starts or creates anything; the catalog is only read.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { topoOrder } from "./graph";
import { BLOCK_SIZE, blockBase, busyPorts, hostPorts, MAX_BLOCK } from "./ports";
import { ENV_VAR_RE } from "./spec/schema";
import type { BuildContext, EnvSpec, SpecIssue } from "./spec/model";

export interface Findings {
  errors: SpecIssue[];
  warnings: SpecIssue[];
}

// ---------------------------------------------------------------------------------------------
// shell words

/** One word of a shell command line; `dynamic` when the shell (or a template) decides its value. */
export interface Word {
  text: string;
  dynamic: boolean;
}

/**
 * Splits a `/bin/sh` command line into simple commands (at `&&`, `||`, `;`, `|`, `&`, newlines
 * and parentheses) made of unquoted words. Redirections and comments are dropped. Enough to find
 * the program a command runs; not a full shell parser (no here-documents, no aliases).
 */
export function simpleCommands(line: string): Word[][] {
  const out: Word[][] = [];
  let cmd: Word[] = [];
  let text = "";
  let inWord = false;
  let dynamic = false;
  let redirect = false; // the next word is a redirection target
  const endWord = (): void => {
    if (inWord) {
      if (redirect) redirect = false;
      else cmd.push({ text, dynamic });
    }
    text = "";
    inWord = false;
    dynamic = false;
  };
  const endCmd = (): void => {
    endWord();
    redirect = false;
    if (cmd.length > 0) out.push(cmd);
    cmd = [];
  };
  /** Index of the character that closes a `$(`/`{{` group opened before `from`. */
  const closing = (from: number, open: string, close: string): number => {
    let depth = 1;
    for (let j = from; j < line.length; j++) {
      if (line.startsWith(open, j)) depth++;
      else if (line.startsWith(close, j) && --depth === 0) return j;
    }
    return line.length;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      const stop = end < 0 ? line.length : end;
      text += line.slice(i + 1, stop);
      inWord = true;
      i = stop;
    } else if (c === '"') {
      inWord = true;
      for (i++; i < line.length && line[i] !== '"'; i++) {
        const d = line[i]!;
        if (d === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) {
          text += line[++i];
        } else {
          if (d === "$" || d === "`") dynamic = true;
          text += d;
        }
      }
    } else if (c === "\\") {
      if (i + 1 < line.length && line[i + 1] !== "\n") {
        text += line[i + 1];
        inWord = true;
      }
      i++;
    } else if (line.startsWith("{{", i) || line.startsWith("$(", i) || c === "`") {
      const [open, close] = c === "`" ? ["\0", "`"] : c === "{" ? ["{{", "}}"] : ["(", ")"];
      const end = closing(i + (c === "`" ? 1 : 2), open, close);
      text += line.slice(i, end + close.length);
      inWord = true;
      dynamic = true;
      i = end + close.length - 1;
    } else if (c === "$") {
      text += c;
      inWord = true;
      dynamic = true;
    } else if (c === " " || c === "\t") {
      endWord();
    } else if (c === "#" && !inWord) {
      while (i + 1 < line.length && line[i + 1] !== "\n") i++;
    } else if (c === ">" || c === "<" || (c === "&" && line[i + 1] === ">")) {
      if (inWord && /^\d+$/.test(text)) {
        text = ""; // a file descriptor number: `2>`
        inWord = false;
      } else endWord();
      while (i + 1 < line.length && "<>&|".includes(line[i + 1]!)) i++;
      redirect = true;
      // `2>&1`: the target is the descriptor right after, read as the next word
    } else if ("\n;&|()".includes(c)) {
      endCmd();
    } else {
      text += c;
      inWord = true;
    }
  }
  endCmd();
  return out;
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

/** Where `name` resolves on `pathVar` (a PATH string), like `command -v`; empty entries are skipped. */
export function findOnPath(name: string, pathVar: string): string | undefined {
  for (const dir of pathVar.split(path.delimiter)) {
    if (dir && isExecutableFile(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
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

const GIT_MODES: Record<string, EntryKind> = {
  "040000": "dir",
  "160000": "dir", // a submodule
  "100755": "executable",
  "100644": "file",
  "120000": "symlink",
};

/** The tree of `ref` in `repo`, asked of git; an issue when the repo or the ref is not there. */
export function gitTree(repo: string, ref: string): RepoTree | SpecIssue {
  const git = (...args: string[]): string =>
    execFileSync("git", ["-C", repo, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 16 * 1024 * 1024,
    });
  if (!fs.existsSync(repo)) return { path: "repo", message: `${repo} does not exist` };
  try {
    git("rev-parse", "--git-dir");
  } catch {
    return { path: "repo", message: `${repo} is not a git repository` };
  }
  try {
    git("rev-parse", "--verify", "--quiet", `${ref}^{commit}`);
  } catch {
    return { path: "base", message: `"${ref}" is not a branch or commit in ${repo}` };
  }
  const cache = new Map<string, EntryKind | undefined>();
  return {
    root: repo,
    ref,
    entry(rel: string): EntryKind | undefined {
      const p = path.posix.normalize(rel.split(path.sep).join("/")).replace(/\/+$/, "");
      if (p === "." || p === "") return "dir";
      if (p.startsWith("../") || p === ".." || p.startsWith("/")) return undefined;
      if (!cache.has(p)) {
        const line = git("ls-tree", "-z", ref, "--", p)
          .split("\0")
          .find((l) => l.endsWith(`\t${p}`));
        cache.set(p, line === undefined ? undefined : GIT_MODES[line.split(" ")[0]!]);
      }
      return cache.get(p);
    },
  };
}

/** `, but it exists in REPO and is not committed` when that is why the tree lacks it. */
function uncommitted(tree: RepoTree, rel: string): string {
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
  for (const words of simpleCommands(cmd)) {
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

// ---------------------------------------------------------------------------------------------
// port blocks

/** A host port of the spec that was busy in a block the env cannot get. */
export interface BusyPort {
  block: number;
  port: number;
  /** `services.NAME.ports[i]` of every spec port landing on it. */
  paths: string[];
}

export interface BlockChoice {
  /** The block a new env would lease now; undefined when none is free. */
  block?: number;
  /** Busy ports in the unleased blocks below it, which is why it was skipped to. */
  busy: BusyPort[];
}

/**
 * The lowest block not in `leased` whose host ports are all free right now (what `up` would
 * lease), and the busy ports that made it skip lower blocks.
 */
export async function chooseBlock(
  services: EnvSpec["services"],
  leased: Set<number>,
  busy: (ports: number[]) => Promise<number[]> = busyPorts,
): Promise<BlockChoice> {
  const found: BusyPort[] = [];
  for (let n = 0; n <= MAX_BLOCK; n++) {
    if (leased.has(n)) continue;
    const base = blockBase(n);
    const taken = await busy(hostPorts(services, base));
    if (taken.length === 0) return { block: n, busy: found };
    for (const port of taken) {
      const paths = services.flatMap((s) =>
        s.ports.flatMap((p, i) =>
          base + p.offset === port ? [`services.${s.name}.ports[${i}]`] : [],
        ),
      );
      found.push({ block: n, port, paths });
    }
  }
  return { busy: found };
}

/** The choice as findings: a warning per busy port naming service and port, or an error. */
export function blockFindings(choice: BlockChoice): Findings {
  const then =
    choice.block === undefined ? "no block is free" : `the env would get block ${choice.block}`;
  const warnings = choice.busy.flatMap((b) =>
    b.paths.map((p) => ({
      path: p,
      message: `host port ${b.port} is in use (block ${b.block}); ${then}`,
    })),
  );
  const errors =
    choice.block === undefined
      ? [
          {
            path: "services",
            message: `no free port block: every block 0..${MAX_BLOCK} is leased by another env or has host ports in use`,
          },
        ]
      : [];
  return { errors, warnings };
}

/** Host ports `base`..`base + 999` of block n. */
export function blockRange(n: number): [number, number] {
  const base = blockBase(n);
  return [base, base + BLOCK_SIZE - 1];
}

/** A block another env holds, from the catalog. */
export interface HeldBlock {
  block: number;
  env: string;
}

/**
 * Blocks other envs hold, read from the catalog without creating or migrating it: nothing when
 * the file does not exist, read-only otherwise (better-sqlite3's own readonly mode).
 */
export function heldBlocks(catalogFile: string): HeldBlock[] {
  if (!fs.existsSync(catalogFile)) return [];
  const db = new Database(catalogFile, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    const rows = (sql: string): HeldBlock[] => {
      try {
        return db.prepare<[], HeldBlock>(sql).all();
      } catch {
        return []; // an older or empty catalog without the table
      }
    };
    const held = [
      ...rows("SELECT block, env FROM port_leases"),
      ...rows("SELECT block, name AS env FROM envs WHERE block IS NOT NULL"),
    ];
    const seen = new Set<number>();
    return held
      .filter((h) => !seen.has(h.block) && seen.add(h.block))
      .sort((a, b) => a.block - b.block);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// everything

export interface ValidateSeams {
  /** Blocks other envs hold. */
  held?: HeldBlock[];
  /** PATH commands run with (default: envctl's own). */
  pathVar?: string;
  homeDir?: string;
  busy?: (ports: number[]) => Promise<number[]>;
}

export interface ValidateReport extends Findings {
  ok: boolean;
  /** Start order (dependencies first). */
  order: string[];
  block?: number;
}

/** The checks `validate` runs on a spec the loader accepted. */
export async function validateSpec(
  spec: EnvSpec,
  seams: ValidateSeams = {},
): Promise<ValidateReport> {
  const errors: SpecIssue[] = [];
  const warnings: SpecIssue[] = [];
  const add = (f: Findings): void => {
    errors.push(...f.errors);
    warnings.push(...f.warnings);
  };
  const topo = topoOrder(spec.services);
  const order = topo.ok ? topo.order : spec.services.map((s) => s.name);

  const treeOrIssue = gitTree(spec.repo, spec.base);
  const tree = "entry" in treeOrIssue ? treeOrIssue : undefined;
  if (!tree) errors.push(treeOrIssue as SpecIssue);
  const pathVar = seams.pathVar ?? process.env.PATH ?? "";
  const exportsPath = spec.exports.some((e) => e.name === "PATH");
  const base = { pathVar, homeDir: seams.homeDir, ...(tree ? { tree } : {}) };

  for (const s of spec.services) {
    if (s.type === "container") {
      const problem = s.build && buildIssue(s.name, s.build);
      if (problem) errors.push(problem);
      continue;
    }
    const at = `services.${s.name}`;
    const problem = tree && dirIssue(`${at}.dir`, s.dir, tree);
    if (problem) errors.push(problem);
    add(
      commandIssues(`${at}.cmd`, s.cmd, {
        ...base,
        ...(problem ? { tree: undefined } : {}),
        dir: s.dir,
        pathChanged: exportsPath || "PATH" in s.env,
      }),
    );
  }
  spec.init.forEach((st, i) => {
    const at = `init.steps[${i}]`;
    const problem = tree && dirIssue(`${at}.dir`, st.dir, tree);
    if (problem) errors.push(problem);
    add(
      commandIssues(`${at}.run`, st.run, {
        ...base,
        ...(problem ? { tree: undefined } : {}),
        dir: st.dir,
        pathChanged: exportsPath,
      }),
    );
  });
  if (spec.temporal && spec.temporal.namespaces.length > 0 && !findOnPath("temporal", pathVar)) {
    // Only the first warm needs it (spawn works without), and doctor reports it with the fix.
    warnings.push({
      path: "temporal.namespaces",
      message: `"temporal" is not installed (not found on PATH); the first warm creates the namespaces with it (see envctl doctor)`,
    });
  }

  const choice = await chooseBlock(
    spec.services,
    new Set((seams.held ?? []).map((h) => h.block)),
    seams.busy,
  );
  add(blockFindings(choice));
  return {
    ok: errors.length === 0,
    errors,
    warnings,
    order,
    ...(choice.block !== undefined ? { block: choice.block } : {}),
  };
}

/** A build context must be a directory holding the Dockerfile (both on the host, not in git). */
function buildIssue(name: string, build: BuildContext): SpecIssue | undefined {
  const at = `services.${name}.build`;
  if (!fs.existsSync(build.context) || !fs.statSync(build.context).isDirectory()) {
    return { path: at, message: `build context ${build.context} is not a directory` };
  }
  if (!fs.existsSync(path.resolve(build.context, build.dockerfile))) {
    return { path: at, message: `no ${build.dockerfile} in the build context ${build.context}` };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// the loader's report, back into issues

const PATH_RE =
  /^((?:[A-Za-z0-9_-]+|\[(?:\d+|"(?:[^"\\]|\\.)*")\])(?:\.[A-Za-z0-9_-]+|\[(?:\d+|"(?:[^"\\]|\\.)*")\])*): ([\s\S]*)$/;

/** `services.web.ports[0]: must be ...` -> { path, message }; a line without a dot-path is a message. */
export function parseIssue(line: string): SpecIssue {
  const m = PATH_RE.exec(line);
  return m ? { path: m[1]!, message: m[2]! } : { path: "", message: line };
}

/** Counts for the summary line: `3 services (2 containers, 1 process)`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
