/**
 * The envctl catalog: what must survive outside Pulumi state (port-block leases, a fast index
 * of environments, the hosts envs run on), in one SQLite file at $ENVCTL_HOME/catalog.db.
 * Several envctl processes may use it at once; WAL plus a busy timeout lets readers proceed
 * while one writer works, and every read-then-write runs in an IMMEDIATE transaction.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { LATEST_SCHEMA, migrate, readSchemaVersion, refuseNewer } from "./migrations";
import type { HostCatalog } from "../hosts/catalog";
import { EnvLocks } from "./locks";
import { UserError } from "../core/errors";
import { kindOf } from "../kinds";
import { ENV_STATES, type EnvState, type ResolvedEnv } from "../spec/model";

export const ENV_STATUSES = ["creating", "ready", "failed", "destroying"] as const;
export type EnvStatus = (typeof ENV_STATUSES)[number];

export interface EnvRecord {
  name: string;
  /** The stack kind (lib/kinds), as stored: a kind this envctl does not know stays readable. */
  kind: string;
  /** Hash of the normalized spec, to tell whether `up` has anything to do. */
  specHash: string;
  host: string;
  worktreePath: string | null;
  branch: string | null;
  /** Port block index, when the env has one. */
  block: number | null;
  status: EnvStatus;
  createdAtMs: number;
  updatedAtMs: number;
  /** Last known stack outputs, for listing without asking Pulumi. */
  outputs: Record<string, unknown> | null;
  /** Desired lifecycle state (stopped / cold / warm). */
  state: EnvState;
  /** The resolved env last given to the stack: lifecycle verbs re-apply it with another state. */
  resolved: ResolvedEnv | null;
  /**
   * Why `resolved` could not be read (a kind this envctl does not know, or a schema version
   * newer than it knows). One such row does not stop the others from being listed.
   */
  unreadable?: string;
}

export interface Lease {
  block: number;
  env: string;
  host: string;
  leasedAtMs: number;
}

export type UpsertEnv = Omit<EnvRecord, "createdAtMs" | "updatedAtMs" | "state" | "resolved"> & {
  nowMs?: number;
};

/** leaseBlock found no block it may lease: every one is leased or rejected by `accept`. */
export class NoFreeBlockError extends Error {
  override readonly name = "NoFreeBlockError";
}

/** Waits this long for another process's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 15_000; // generous: many envctl processes may start at once on a loaded machine

interface EnvRow {
  name: string;
  kind: string;
  spec_hash: string;
  host: string;
  worktree_path: string | null;
  branch: string | null;
  block: number | null;
  status: string;
  created_at_ms: number;
  updated_at_ms: number;
  outputs_json: string | null;
  state: string;
  env_json: string | null;
}

interface LeaseRow {
  block: number;
  env: string;
  host: string;
  leased_at_ms: number;
}

function toLease(row: LeaseRow): Lease {
  return {
    block: row.block,
    env: row.env,
    host: row.host,
    leasedAtMs: row.leased_at_ms,
  };
}

function toEnv(row: EnvRow): EnvRecord {
  return {
    name: row.name,
    kind: row.kind,
    specHash: row.spec_hash,
    host: row.host,
    worktreePath: row.worktree_path,
    branch: row.branch,
    block: row.block,
    status: assertStatus(row.status, `envs.${row.name}.status`),
    createdAtMs: row.created_at_ms,
    updatedAtMs: row.updated_at_ms,
    outputs:
      row.outputs_json === null ? null : (JSON.parse(row.outputs_json) as Record<string, unknown>),
    state: (ENV_STATES as readonly string[]).includes(row.state) ? (row.state as EnvState) : "warm",
    ...readResolved(row),
  };
}

/** Rows outlive the envctl that wrote them: the resolved env in the current shape, by its kind. */
function readResolved(row: EnvRow): Pick<EnvRecord, "resolved" | "unreadable"> {
  if (row.env_json === null) return { resolved: null };
  const where = `envs.${row.name}.env_json`;
  try {
    return {
      resolved: kindOf(row.kind, `envs.${row.name}.kind`).upgrade(JSON.parse(row.env_json), where),
    };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return { resolved: null, unreadable: err.message };
  }
}

function assertStatus(status: string, where: string): EnvStatus {
  if (!(ENV_STATUSES as readonly string[]).includes(status)) {
    throw new Error(
      `${where}: unknown env status "${status}" (expected ${ENV_STATUSES.join(", ")})`,
    );
  }
  return status as EnvStatus;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Runs the opening steps (the switch to WAL, migrations; both idempotent) until they pass. On a
 * fresh file other processes are opening at the same moment, SQLite can answer SQLITE_BUSY at
 * once, without waiting in the busy handler (changing the journal mode, recovering the WAL).
 */
function retryBusy(timeoutMs: number, steps: () => void): void {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      steps();
      return;
    } catch (err) {
      const busy = (err as { code?: string }).code?.startsWith("SQLITE_BUSY");
      if (!busy || Date.now() > until) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

export class Catalog {
  private hostCatalog: HostCatalog | undefined;
  private envLocks: EnvLocks | undefined;
  private readonly stmts;

  /**
   * The hosts table (lib/hosts/catalog.ts), on this catalog's connection. Loaded on first use: its zod
   * validation costs ~100 ms of start-up that `envctl list` should not pay.
   */
  get hosts(): HostCatalog {
    if (!this.hostCatalog) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { HostCatalog } = require("../hosts/catalog") as typeof import("../hosts/catalog");
      this.hostCatalog = new HostCatalog(this.db);
    }
    return this.hostCatalog;
  }

  /** Who runs an operation on which env (lib/catalog/locks.ts), on this catalog's connection. */
  get locks(): EnvLocks {
    return (this.envLocks ??= new EnvLocks(this.db));
  }

  private constructor(
    private readonly db: Database.Database,
    /** The catalog's file, for messages (a migrated copy lives in memory). */
    readonly file: string = db.name,
  ) {
    this.stmts = {
      getLease: db.prepare<[string], LeaseRow>("SELECT * FROM port_leases WHERE env = ?"),
      leases: db.prepare<[], LeaseRow>("SELECT * FROM port_leases ORDER BY block"),
      leasedBlocks: db.prepare<[], { block: number }>("SELECT block FROM port_leases"),
      insertLease: db.prepare<[number, string, number], LeaseRow>(
        "INSERT INTO port_leases (block, env, leased_at_ms) VALUES (?, ?, ?) RETURNING *",
      ),
      releaseLease: db.prepare<[string]>("DELETE FROM port_leases WHERE env = ?"),
      getEnv: db.prepare<[string], EnvRow>("SELECT * FROM envs WHERE name = ?"),
      listEnvs: db.prepare<[], EnvRow>("SELECT * FROM envs ORDER BY name"),
      // ON CONFLICT leaves created_at_ms alone: it records the first upsert.
      upsertEnv: db.prepare<Record<string, unknown>, EnvRow>(
        `INSERT INTO envs (name, kind, spec_hash, host, worktree_path, branch, block, status,
                           created_at_ms, updated_at_ms, outputs_json)
         VALUES (@name, @kind, @specHash, @host, @worktreePath, @branch, @block, @status,
                 @nowMs, @nowMs, @outputsJson)
         ON CONFLICT (name) DO UPDATE SET
           kind = excluded.kind, spec_hash = excluded.spec_hash, host = excluded.host,
           worktree_path = excluded.worktree_path, branch = excluded.branch,
           block = excluded.block, status = excluded.status,
           updated_at_ms = excluded.updated_at_ms, outputs_json = excluded.outputs_json
         RETURNING *`,
      ),
      setStatus: db.prepare<[string, number, string]>(
        "UPDATE envs SET status = ?, updated_at_ms = ? WHERE name = ?",
      ),
      setOutputs: db.prepare<[string, number, string]>(
        "UPDATE envs SET outputs_json = ?, updated_at_ms = ? WHERE name = ?",
      ),
      setDesired: db.prepare<[string, string, number, string]>(
        "UPDATE envs SET state = ?, env_json = ?, updated_at_ms = ? WHERE name = ?",
      ),
      deleteEnv: db.prepare<[string]>("DELETE FROM envs WHERE name = ?"),
      envsOnHost: db.prepare<[string], { name: string }>(
        "SELECT name FROM envs WHERE host = ? ORDER BY name",
      ),
    };
  }

  /**
   * Open (creating the file and its directory if needed) and migrate to the latest schema.
   * `busyTimeoutMs` (default 15 s) is how long a write waits for another process's lock.
   */
  static open(file: string, opts: { busyTimeoutMs?: number } = {}): Catalog {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    try {
      fs.chmodSync(file, 0o600); // env rows hold resolved envs, variables included
      // busy_timeout first: switching to WAL and migrating both need locks others may hold.
      db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? BUSY_TIMEOUT_MS}`);
      db.pragma("foreign_keys = ON");
      retryBusy(opts.busyTimeoutMs ?? BUSY_TIMEOUT_MS, () => {
        db.pragma("journal_mode = WAL");
        migrate(db);
      });
      return new Catalog(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * The catalog for a command that only reads: undefined when the file does not exist, else a
   * connection on which every write fails (SQLITE_READONLY). Creates, migrates and chmods
   * nothing. A file behind this build's schema is read through a migrated copy in memory; one
   * ahead of it is refused.
   */
  static openReadOnly(file: string): Catalog | undefined {
    const db = openForReading(file);
    if (!db) return undefined;
    let version;
    try {
      version = readSchemaVersion(db);
      refuseNewer(version, LATEST_SCHEMA);
    } catch (err) {
      db.close();
      throw err;
    }
    if (version === LATEST_SCHEMA) return new Catalog(db, file);
    db.close();
    const copy = Catalog.openCopy(file);
    copy.db.pragma("query_only = ON");
    return copy;
  }

  /**
   * A private copy in memory of the catalog (an empty one when the file does not exist),
   * migrated to this build's schema: changes to it never reach the file. For commands that
   * show what a write would make (`localhost` registered) without writing.
   */
  static openCopy(file: string): Catalog {
    const db = openForReading(file);
    let image: Buffer | undefined;
    try {
      if (db) refuseNewer(readSchemaVersion(db), LATEST_SCHEMA);
      image = db?.serialize();
    } finally {
      db?.close();
    }
    // Header bytes 18-19 say WAL (2); a database in memory has none: rollback journal (1).
    if (image) image[18] = image[19] = 1;
    const copy = new Database(image ?? ":memory:");
    try {
      copy.pragma("foreign_keys = ON");
      migrate(copy);
      return new Catalog(copy, file);
    } catch (err) {
      copy.close();
      throw err;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  schemaVersion(): number {
    return readSchemaVersion(this.db);
  }

  // ---- leases ----------------------------------------------------------------------------

  getLease(env: string): Lease | undefined {
    const row = this.stmts.getLease.get(env);
    return row && toLease(row);
  }

  /** All leases, ordered by block. */
  leases(): Lease[] {
    return this.stmts.leases.all().map(toLease);
  }

  /**
   * Lease the lowest block in [0, maxBlock] that is not leased and for which `accept(block)`
   * returns true; returns the existing lease if env already has one. `accept` is asked about
   * free blocks only, lowest first, and must be synchronous (callers pre-compute which blocks
   * have busy host ports). Pick and insert share one IMMEDIATE transaction, so two processes
   * never get the same block. Throws a NoFreeBlockError when no block is free.
   */
  leaseBlock(
    env: string,
    maxBlock: number,
    accept: (block: number) => boolean = () => true,
  ): Lease {
    if (!Number.isSafeInteger(maxBlock) || maxBlock < 0) {
      throw new Error(`leaseBlock: maxBlock must be a non-negative integer, got ${maxBlock}`);
    }
    return this.db
      .transaction((): Lease => {
        const existing = this.stmts.getLease.get(env);
        if (existing) return toLease(existing);
        const taken = new Set(this.stmts.leasedBlocks.all().map((r) => r.block));
        let rejected = 0;
        for (let block = 0; block <= maxBlock; block++) {
          if (taken.has(block)) continue;
          if (!accept(block)) {
            rejected++;
            continue;
          }
          return toLease(this.stmts.insertLease.get(block, env, Date.now())!);
        }
        const leased = [...taken].filter((b) => b <= maxBlock).length;
        throw new NoFreeBlockError(
          `no free port block for env "${env}": all ${maxBlock + 1} blocks (0..${maxBlock}) are ` +
            `taken (${leased} leased by other envs, ${rejected} with host ports in use)`,
        );
      })
      .immediate();
  }

  /** Drop env's lease; returns whether it had one. */
  releaseLease(env: string): boolean {
    return this.stmts.releaseLease.run(env).changes > 0;
  }

  // ---- envs ------------------------------------------------------------------------------

  /** Insert or replace an env's row; `createdAtMs` is kept from the first insert. */
  upsertEnv(rec: UpsertEnv): EnvRecord {
    assertStatus(rec.status, `env ${rec.name}`);
    const row = this.stmts.upsertEnv.get({
      name: rec.name,
      kind: rec.kind,
      specHash: rec.specHash,
      host: rec.host,
      worktreePath: rec.worktreePath,
      branch: rec.branch,
      block: rec.block,
      status: rec.status,
      nowMs: rec.nowMs ?? Date.now(),
      outputsJson: rec.outputs === null ? null : this.outputsJson(rec.name, rec.outputs),
    });
    return toEnv(row!);
  }

  getEnv(name: string): EnvRecord | undefined {
    const row = this.stmts.getEnv.get(name);
    return row && toEnv(row);
  }

  /** All envs, ordered by name. */
  listEnvs(): EnvRecord[] {
    return this.stmts.listEnvs.all().map(toEnv);
  }

  /** Throws if env has no row. */
  setStatus(name: string, status: EnvStatus, nowMs: number = Date.now()): void {
    assertStatus(status, `env ${name}`);
    if (this.stmts.setStatus.run(status, nowMs, name).changes === 0) {
      throw new Error(`cannot set status of env "${name}": it is not in the catalog`);
    }
  }

  /** Records the desired state and the resolved env applied for it; throws if env has no row. */
  setDesired(name: string, env: ResolvedEnv, nowMs: number = Date.now()): void {
    if (this.stmts.setDesired.run(env.state, JSON.stringify(env), nowMs, name).changes === 0) {
      throw new Error(`cannot set the state of env "${name}": it is not in the catalog`);
    }
  }

  /** Replace the stored outputs; throws if env has no row. */
  setOutputs(name: string, outputs: Record<string, unknown>, nowMs: number = Date.now()): void {
    const json = this.outputsJson(name, outputs);
    if (this.stmts.setOutputs.run(json, nowMs, name).changes === 0) {
      throw new Error(`cannot set outputs of env "${name}": it is not in the catalog`);
    }
  }

  /** Remove the env row and its lease in one transaction; returns whether anything was removed. */
  removeEnv(name: string): boolean {
    return this.db
      .transaction((): boolean => {
        const rows = this.stmts.deleteEnv.run(name).changes;
        const leases = this.stmts.releaseLease.run(name).changes;
        return rows + leases > 0;
      })
      .immediate();
  }

  /** Names of the envs placed on host `hostId` (their `host` column), ordered by name. */
  envsOnHost(hostId: string): string[] {
    return this.stmts.envsOnHost.all(hostId).map((r) => r.name);
  }

  private outputsJson(name: string, outputs: Record<string, unknown>): string {
    if (!isPlainObject(outputs)) {
      throw new Error(`env ${name}: outputs must be a JSON object`);
    }
    return JSON.stringify(outputs);
  }
}

/**
 * A connection to an existing catalog that reads and never writes, or undefined when there is no
 * file. In WAL mode even a reader needs the -wal and -shm files: a `readonly` connection creates
 * them when they are missing and, unable to checkpoint, leaves them behind. A read-write
 * connection with `query_only` creates them too, but as the last connection to close it removes
 * them again, so the home ends as it was; `query_only` makes every write an error, and the
 * ordinary locks keep reads consistent while another process writes. (`immutable=1` would touch
 * no file but takes no locks: a concurrent checkpoint could change pages under a read.) A WAL a
 * crashed writer left is folded into the file on close, as by any connection.
 */
export function openForReading(file: string): Database.Database | undefined {
  if (!fs.existsSync(file)) return undefined;
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch (err) {
    // Removed between the check and the open.
    if (!fs.existsSync(file)) return undefined;
    throw err;
  }
  try {
    db.pragma("query_only = ON");
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Open `<home>/catalog.db`. */
export function openCatalog(home: string): Catalog {
  return Catalog.open(path.join(home, "catalog.db"));
}
