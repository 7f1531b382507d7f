/**
 * envctl's backup archive: one .tar.gz holding `manifest.json` (what it is, of which env, when,
 * the code revision and image ids, and a SHA-256 of every other member), the database dump
 * (`pg_dump -Fc`), the env's stack settings (its secrets stay encrypted there) and resolved
 * env, and for an export the app's /data and the code (a git bundle). An archive is checked
 * whole before anything is restored from it: a truncated or foreign file is refused.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tar from "tar";
import { UserError } from "../core/errors";

export const FORMAT = "envctl-backup/1";
export const DUMP = "database.dump";

export interface Manifest {
  format: typeof FORMAT;
  /** `backup`: database + config; `export`: also /data and the code. */
  type: "backup" | "export";
  env: string;
  kind: string;
  createdAt: string;
  /** The env's checkout's commit. */
  revision?: string;
  /** Image id per service. */
  images: Record<string, string>;
  database: { service: string; user: string; db: string };
  /** SHA-256 (hex) of every member but the manifest. */
  files: Record<string, string>;
}

const sha256 = (file: string): string =>
  createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** Writes `dir`'s files (flat names, plus the manifest made here) into `out` (.tar.gz, mode 0600). */
export async function writeArchive(
  dir: string,
  manifest: Omit<Manifest, "files" | "format">,
  out: string,
): Promise<Manifest> {
  const members = fs
    .readdirSync(dir)
    .filter((f) => f !== "manifest.json")
    .sort();
  const full: Manifest = {
    format: FORMAT,
    ...manifest,
    files: Object.fromEntries(members.map((f) => [f, sha256(path.join(dir, f))])),
  };
  fs.writeFileSync(path.join(dir, "manifest.json"), `${JSON.stringify(full, null, 2)}\n`);
  fs.mkdirSync(path.dirname(out), { recursive: true, mode: 0o700 });
  const tmp = `${out}.${process.pid}.tmp`;
  await tar.c(
    {
      gzip: true,
      file: tmp,
      cwd: dir,
      portable: true,
      mode: 0o600,
    } as tar.TarOptionsWithAliasesAsyncFile,
    ["manifest.json", ...members],
  );
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, out);
  return full;
}

/**
 * Unpacks and checks `file` for env `env` into a fresh temporary directory: a complete
 * archive, envctl's format, of this env, every member matching its checksum, a Postgres
 * custom-format dump. Throws a UserError (exit 1) saying what is wrong; nothing is touched.
 */
export async function readArchive(
  file: string,
  env: string,
): Promise<{ dir: string; manifest: Manifest }> {
  const refuse = (why: string): UserError =>
    new UserError(`${file} is not a usable envctl backup of ${env}: ${why}`, 1, [
      "nothing was restored; the database is as it was",
    ]);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw refuse("no such file");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-restore-"));
  try {
    try {
      await tar.x({ file, cwd: dir, strict: true, preservePaths: false });
    } catch (err) {
      throw refuse(
        `it does not unpack (${(err as Error).message.split("\n")[0]}): truncated, or not a .tar.gz`,
      );
    }
    const mf = path.join(dir, "manifest.json");
    if (!fs.existsSync(mf)) throw refuse("it has no manifest.json");
    let manifest: Manifest;
    try {
      manifest = JSON.parse(fs.readFileSync(mf, "utf8")) as Manifest;
    } catch {
      throw refuse("its manifest.json is not JSON");
    }
    const format: unknown = (manifest as { format?: unknown }).format;
    if (format !== FORMAT) throw refuse(`its format is ${JSON.stringify(format)}, not ${FORMAT}`);
    if (manifest.env !== env) throw refuse(`it is a backup of env ${manifest.env}`);
    for (const [name, sum] of Object.entries(manifest.files ?? {})) {
      const p = path.join(dir, name);
      if (!fs.existsSync(p)) throw refuse(`${name} is missing`);
      if (sha256(p) !== sum) throw refuse(`${name} does not match its checksum`);
    }
    if (!manifest.files?.[DUMP]) throw refuse(`it holds no ${DUMP}`);
    const head = Buffer.alloc(5);
    const fd = fs.openSync(path.join(dir, DUMP), "r");
    fs.readSync(fd, head, 0, 5, 0);
    fs.closeSync(fd);
    if (head.toString("latin1") !== "PGDMP")
      throw refuse(`${DUMP} is not a pg_dump custom-format archive`);
    return { dir, manifest };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** `<NAME>-<UTC time>.tar.gz` under `$ENVCTL_HOME/backups/NAME/` (export: `-export`). */
export function archivePath(
  backupsDir: string,
  env: string,
  type: Manifest["type"],
  now = new Date(),
): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return path.join(backupsDir, env, `${env}-${stamp}${type === "export" ? "-export" : ""}.tar.gz`);
}
