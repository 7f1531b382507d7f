import * as fs from "node:fs";
import * as path from "node:path";
import { simpleGit } from "simple-git";
import { Catalog } from "../lib/catalog";
import { badInput, UserError } from "../lib/errors";
import { resolveHome, type Home } from "../lib/home";
import { validateEnvName } from "../lib/names";
import { busyPorts, hostPorts, MAX_BLOCK, blockBase } from "../lib/ports";
import { formatIssue, loadSpecFile } from "../lib/spec/load";
import type { EnvSpec } from "../lib/spec/model";

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

/** Loads and validates a spec file; every issue is reported with its dot-path (exit 2). */
export function loadSpec(file: string | undefined, cwd: string): { spec: EnvSpec; file: string } {
  const specFile = path.resolve(cwd, file ?? "envctl.yaml");
  if (!file && !fs.existsSync(specFile)) {
    throw badInput(`no envctl.yaml in ${cwd}: run envctl where the spec is, or pass -f SPEC`);
  }
  const res = loadSpecFile(specFile);
  if (res.errors.length > 0 || !res.spec) {
    throw badInput(`invalid spec ${specFile}`, res.errors.map(formatIssue));
  }
  return { spec: res.spec, file: specFile };
}

/** The spec's repo must be a git repository holding the base ref: checked before anything is created. */
export async function checkRepo(spec: EnvSpec): Promise<void> {
  if (!fs.existsSync(spec.repo)) throw badInput(`repo: ${spec.repo} does not exist`);
  const git = simpleGit(spec.repo);
  if (!(await git.checkIsRepo())) throw badInput(`repo: ${spec.repo} is not a git repository`);
  try {
    await git.revparse(["--verify", `${spec.base}^{commit}`]);
  } catch {
    throw badInput(`base: "${spec.base}" is not a branch or commit in ${spec.repo}`);
  }
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
