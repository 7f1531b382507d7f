import * as fs from "node:fs";
import * as path from "node:path";
import { Catalog, type EnvRecord, type EnvStatus } from "../lib/catalog/catalog";
import { badInput, UserError } from "../lib/core/errors";
import { resolveHome, type Home } from "../lib/core/home";
import { validateEnvName } from "../lib/core/names";
import { busyPorts, hostPorts, MAX_BLOCK, blockBase } from "../lib/spec/ports";
import type { ParseResult } from "../lib/spec/load";
import type { EnvSpec, ResolvedEnv, SpecIssue } from "../lib/spec/model";
import { projectRoot } from "../lib/core/toolchain";

// The spec parser (zod, yaml) and simple-git load on first use: list, status, logs and the host
// commands import this module too and never need them.
const specLoad = (): typeof import("../lib/spec/load") =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("../lib/spec/load") as typeof import("../lib/spec/load");

/** Seams every command accepts, so tests can point a command at a temp home and directory. */
export interface CommandSeams {
  home?: Home;
  cwd?: string;
  /** Human progress lines (stderr in the real CLI). */
  log?: (line: string) => void;
  /** Results (stdout in the real CLI). */
  out?: (text: string) => void;
  signal?: AbortSignal;
}

export function seams(
  s: CommandSeams,
): Required<Omit<CommandSeams, "signal">> & { signal?: AbortSignal } {
  return {
    home: s.home ?? resolveHome(),
    cwd: s.cwd ?? process.cwd(),
    log: s.log ?? ((line) => process.stderr.write(line + "\n")),
    out: s.out ?? ((text) => process.stdout.write(text.endsWith("\n") ? text : text + "\n")),
    signal: s.signal,
  };
}

export function checkName(name: string): void {
  const problem = validateEnvName(name);
  if (problem) throw badInput(`invalid env name "${name}": ${problem}`);
}

/** Where a spec comes from: `-f` files (envctl.yaml, or compose files), or a named preset. */
export interface SpecSource {
  file?: string | string[];
  preset?: string;
}

/** The presets shipped with envctl (directories holding an envctl.yaml). */
export function presetNames(): string[] {
  const dir = path.join(projectRoot(), "presets");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((d) => fs.existsSync(path.join(dir, d, "envctl.yaml")))
    .sort();
}

/**
 * Loads and validates a spec; every issue is reported with its dot-path (exit 2). Compose files
 * (one or several `-f`) are imported; a preset's repo is the git repository envctl runs in.
 */
export function loadSpec(
  source: SpecSource | string | undefined,
  cwd: string,
): { spec: EnvSpec; file: string; warnings: SpecIssue[] } {
  const src: SpecSource =
    typeof source === "string" || source === undefined ? { file: source } : source;
  const { formatIssue, loadComposeFiles, loadSpecFile } = specLoad();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { isComposeFile } = require("../lib/spec/compose") as typeof import("../lib/spec/compose");
  const files = src.file === undefined ? [] : Array.isArray(src.file) ? src.file : [src.file];
  let res: ParseResult;
  let specFile: string;
  if (src.preset !== undefined) {
    if (files.length > 0) throw badInput("--preset and -f are exclusive: pick one");
    if (!presetNames().includes(src.preset)) {
      throw badInput(`unknown preset "${src.preset}"`, [`presets: ${presetNames().join(", ")}`]);
    }
    specFile = path.join(projectRoot(), "presets", src.preset, "envctl.yaml");
    res = loadSpecFile(specFile);
    if (res.spec) res.spec.repo = cwd;
  } else if (files.length > 1 || (files.length === 1 && isComposeFile(files[0]!))) {
    const abs = files.map((f) => path.resolve(cwd, f));
    if (!abs.every(isComposeFile) && abs.length > 1) {
      throw badInput(
        "several -f files must all be compose files (docker-compose.yml, compose.override.yml, ...)",
      );
    }
    specFile = abs[0]!;
    res = loadComposeFiles(abs);
  } else {
    specFile = path.resolve(cwd, files[0] ?? "envctl.yaml");
    if (files.length === 0 && !fs.existsSync(specFile)) {
      throw badInput(`no envctl.yaml in ${cwd}: run envctl where the spec is, or pass -f SPEC`);
    }
    res = loadSpecFile(specFile);
  }
  if (res.errors.length > 0 || !res.spec) {
    throw badInput(`invalid spec ${specFile}`, res.errors.map(formatIssue));
  }
  return { spec: res.spec, file: specFile, warnings: res.warnings };
}

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

/** The env's catalog row; a name the catalog does not know is bad input (exit 2). */
export function envRecord(home: Home, name: string): EnvRecord {
  const catalog = openCatalog(home);
  try {
    const rec = catalog.getEnv(name);
    if (!rec) {
      throw badInput(`env ${name} does not exist`, [
        "see `envctl list` for the envs in this ENVCTL_HOME; create one with `envctl spawn NAME`",
      ]);
    }
    return rec;
  } finally {
    catalog.close();
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
    specHash: specLoad().specHash(spec),
    host: "localhost",
    worktreePath: env.worktreeDir,
    branch: env.branch,
    block: env.block,
    status,
    outputs: catalog.getEnv(env.name)?.outputs ?? null,
  });
}

export function openCatalog(home: Home): Catalog {
  fs.mkdirSync(home.root, { recursive: true });
  return Catalog.open(home.catalogFile);
}

/** The lowest block not in `skip` whose host ports for `spec` are all free right now. */
export async function freeBlock(spec: EnvSpec, skip: Set<number>): Promise<number | undefined> {
  for (let n = 0; n <= MAX_BLOCK; n++) {
    if (!skip.has(n) && (await busyPorts(hostPorts(spec.services, blockBase(n)))).length === 0) {
      return n;
    }
  }
  return undefined;
}

/**
 * Leases a port block for a new env: the lowest block whose host ports are all free right now.
 * An env that already holds a lease keeps it. A block another process leases first is skipped.
 */
export async function leaseFor(catalog: Catalog, name: string, spec: EnvSpec): Promise<number> {
  const existing = catalog.getLease(name);
  if (existing) return existing.block;
  const skip = new Set(catalog.leases().map((l) => l.block));
  for (;;) {
    const n = await freeBlock(spec, skip);
    if (n === undefined) {
      throw new UserError(
        `no free port block for ${name}: every block is leased or has busy host ports`,
      );
    }
    try {
      return catalog.leaseBlock(name, MAX_BLOCK, (b) => b === n).block;
    } catch {
      skip.add(n); // leased by a concurrent envctl between the scan and the insert
    }
  }
}
