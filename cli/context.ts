/** What every command shares: its seams, the env-name check and the catalog. */
import { Catalog, type EnvRecord } from "../lib/catalog/catalog";
import { quote } from "../lib/core/display";
import { badInput, UserError } from "../lib/core/errors";
import { privateDir, resolveHome, type Home } from "../lib/core/home";
import { validateEnvName } from "../lib/core/names";
import { checkVerb, kindOf, type EnvVerb } from "../lib/kinds";

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
  if (problem) throw badInput(`invalid env name ${quote(name)}: ${problem}`);
}

function missingEnv(name: string): UserError {
  return badInput(`env ${name} does not exist`, [
    "see `envctl list` for the envs in this ENVCTL_HOME; create one with `envctl spawn NAME`",
  ]);
}

/**
 * The env's catalog row for `verb`, read without writing anything: a name the catalog does not
 * know is bad input (exit 2), a kind this envctl does not know or one `verb` does not apply to
 * is a clear error.
 */
export function envRecord(home: Home, name: string, verb: EnvVerb): EnvRecord {
  const catalog = readCatalog(home);
  try {
    const rec = catalog?.getEnv(name);
    if (!rec) throw missingEnv(name);
    checkVerb(kindOf(rec.kind, `catalog: env ${name}`), verb, name);
    if (rec.unreadable) throw new UserError(`env ${name}: ${rec.unreadable}`);
    return rec;
  } finally {
    catalog?.close();
  }
}

/**
 * Refuses a name this home holds nothing of (no catalog row, no port lease, no stack in a local
 * file backend) before a verb opens anything for writing: opening the engine alone makes the
 * project directory, the passphrase and the state directory. Whether another backend holds the
 * stack only pulumi can tell, so there the verb goes on and asks it.
 */
export async function refuseMissing(home: Home, name: string): Promise<void> {
  const catalog = readCatalog(home);
  try {
    if (catalog?.getEnv(name) || catalog?.getLease(name)) return;
  } finally {
    catalog?.close();
  }
  // Loaded here, not at the top: `list` and `status` must not pay for the engine's modules.
  const { stackOnDisk } = await import("../lib/engine/automation");
  if (stackOnDisk(home, name) === false) throw missingEnv(name);
}

/** The catalog for writing: made and migrated if needed, the home tightened to 0700. */
export function openCatalog(home: Home): Catalog {
  privateDir(home.root);
  return Catalog.open(home.catalogFile);
}

/** The catalog for a command that only reads: undefined in a home that has none. Writes nothing. */
export function readCatalog(home: Home): Catalog | undefined {
  return Catalog.openReadOnly(home.catalogFile);
}

/** `env NAME has no service "X"` (exit 2), listing the ones it has. */
export function noSuchService(env: string, services: { name: string }[], name: string): UserError {
  return badInput(`env ${env} has no service ${JSON.stringify(name)}`, [
    `its services: ${services.map((s) => s.name).join(", ") || "(none)"}`,
  ]);
}
