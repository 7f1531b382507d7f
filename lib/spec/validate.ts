/**
 * `envctl validate`'s checks beyond the spec loader: which port block a new env would get and
 * which of its host ports are taken right now (or refused by browsers), whether the programs process services and init
 * steps run exist, and whether the directories they run in exist in the repo at the spec's base.
 * Nothing here starts or creates anything; the catalog is only read. The shell command analysis
 * is in commands.ts.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { topoOrder } from "../core/graph";
import {
  commandIssues,
  dirIssue,
  uncommitted,
  type EntryKind,
  type Findings,
  type RepoTree,
} from "./commands";
import type { BuildContext, ContainerService, EnvSpec, SpecIssue } from "./model";
import { badInput } from "../core/errors";
import { findOnPath } from "../core/toolchain";
import { formatIssue } from "./load";

import { a3sIssue } from "./a3s-name";
import {
  chooseBlock,
  fixedPorts,
  MAX_BLOCK,
  type BlockChoice,
  type HeldBlock,
  unsafePorts,
} from "./ports";
import { inCheckout } from "./worktree-paths";

// ---------------------------------------------------------------------------------------------
// the repo as the worktree will see it

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

// ---------------------------------------------------------------------------------------------
// port blocks

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

// ---------------------------------------------------------------------------------------------
// everything

export interface ValidateSeams {
  /** Blocks other envs hold. */
  held?: HeldBlock[];
  /** PATH commands run with (default: envctl's own). */
  pathVar?: string;
  homeDir?: string;
  /** Which host ports are taken now (the CLI passes lib/runtime/probes busyPorts). */
  busy: (ports: number[]) => Promise<number[]>;
}

export interface ValidateReport extends Findings {
  ok: boolean;
  /** Start order (dependencies first). */
  order: string[];
  block?: number;
}

/** The checks `validate` runs on a spec the loader accepted. */
export async function validateSpec(spec: EnvSpec, seams: ValidateSeams): Promise<ValidateReport> {
  const errors: SpecIssue[] = [];
  const warnings: SpecIssue[] = [];
  const add = (f: Findings): void => {
    errors.push(...f.errors);
    warnings.push(...f.warnings);
  };
  const topo = topoOrder(spec.services);
  const order = topo.ok ? topo.order : spec.services.map((s) => s.name);

  // Relative paths are looked up from the checkout's top level: the worktree mirrors it.
  const treeOrIssue = gitTree(spec.root, spec.base);
  const tree = "entry" in treeOrIssue ? treeOrIssue : undefined;
  if (!tree) errors.push(treeOrIssue as SpecIssue);
  const pathVar = seams.pathVar ?? process.env.PATH ?? "";
  const exportsPath = spec.exports.some((e) => e.name === "PATH");
  const base = { pathVar, homeDir: seams.homeDir, ...(tree ? { tree } : {}) };

  for (const s of spec.services) {
    if (s.type === "container") {
      const problem = s.build && buildIssue(s.name, s.build, tree);
      if (problem) errors.push(problem);
      if (tree) warnings.push(...bindIssues(s, tree));
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
  if (choice.block !== undefined) warnings.push(...unsafePorts(spec.services, choice.block));
  add(await fixedPortFindings(spec, seams.busy));
  const words = spec.source === "a3s" ? a3sIssue : <T>(i: T): T => i;
  return {
    ok: errors.length === 0,
    errors: errors.map(words),
    warnings: warnings.map(words),
    order,
    ...(choice.block !== undefined ? { block: choice.block } : {}),
  };
}

/** A fixed port something listens on now: a warning (it may be this env's own program). */
async function fixedPortFindings(
  spec: EnvSpec,
  busy: (ports: number[]) => Promise<number[]>,
): Promise<Findings> {
  const taken = new Set(await busy(fixedPorts(spec.services)));
  const warnings = spec.services.flatMap((s) =>
    s.ports.flatMap((p, i) =>
      p.fixed && taken.has(p.container)
        ? [
            {
              path: `services.${s.name}.ports[${i}]`,
              message: `port ${p.container} is in use now; the service cannot listen there until it is free`,
            },
          ]
        : [],
    ),
  );
  return { errors: [], warnings };
}

/**
 * A build context must be a directory holding the Dockerfile; one inside the repo is built from
 * the env's worktree, so it must be committed at the base too.
 */
function buildIssue(
  name: string,
  build: BuildContext,
  tree: RepoTree | undefined,
): SpecIssue | undefined {
  const at = `services.${name}.build`;
  if (!fs.existsSync(build.context) || !fs.statSync(build.context).isDirectory()) {
    return { path: at, message: `build context ${build.context} is not a directory` };
  }
  if (!fs.existsSync(path.resolve(build.context, build.dockerfile))) {
    return { path: at, message: `no ${build.dockerfile} in the build context ${build.context}` };
  }
  const rel = tree && inCheckout(tree.root, build.context);
  if (!tree || rel === undefined) return undefined;
  const problem = dirIssue(at, rel, tree);
  if (problem) return problem;
  const file = path.posix.join(rel, build.dockerfile);
  if (tree.entry(file) !== undefined) return undefined;
  const message = `no ${build.dockerfile} in the build context "${rel}" in the repo at ${tree.ref}`;
  return { path: at, message: message + uncommitted(tree, file) };
}

/** A bind source inside the repo is mounted from the env's worktree: it must be committed. */
function bindIssues(s: ContainerService, tree: RepoTree): SpecIssue[] {
  return s.volumes.flatMap((v, i): SpecIssue[] => {
    const rel = v.kind === "bind" ? inCheckout(tree.root, v.source) : undefined;
    if (rel === undefined || tree.entry(rel) !== undefined) return [];
    const message = `bind source "${rel}" is not in the repo at ${tree.ref}, so the env's worktree will not have it (Docker mounts an empty directory)`;
    return [
      { path: `services.${s.name}.volumes[${i}]`, message: message + uncommitted(tree, rel) },
    ];
  });
}

/** Counts for the summary line: `3 services (2 containers, 1 process)`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/**
 * The checks `validate` makes that can fail a run (build contexts, dirs, programs, bind sources
 * at the spec's base), before anything is created: `up`, `spawn` and `preview` call this right
 * after loading the spec. Port blocks are left to the lease, which knows the env's own block.
 */
export async function preflight(spec: EnvSpec): Promise<void> {
  const report = await validateSpec(spec, { busy: () => Promise.resolve([]) });
  const [first, ...rest] = report.errors.map(formatIssue);
  if (first !== undefined) {
    throw badInput(`the spec would fail to run: ${first}`, [
      ...rest,
      "(nothing was created; `envctl validate` shows the same)",
    ]);
  }
}
