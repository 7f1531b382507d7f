/**
 * Forward-only schema migrations for catalog.db. Version N is `MIGRATIONS[N - 1]`; adding a
 * migration is appending one SQL string. Never edit or reorder a shipped entry: files in the
 * wild have already recorded it as applied.
 */
import type Database from "better-sqlite3";

export const MIGRATIONS: readonly string[] = [
  // 1: environment index and port-block leases.
  `CREATE TABLE envs (
     name          TEXT PRIMARY KEY,
     kind          TEXT NOT NULL,
     spec_hash     TEXT NOT NULL,
     host          TEXT NOT NULL DEFAULT 'localhost',
     worktree_path TEXT,
     branch        TEXT,
     block         INTEGER,
     status        TEXT NOT NULL,
     created_at_ms INTEGER NOT NULL,
     updated_at_ms INTEGER NOT NULL,
     outputs_json  TEXT
   );
   CREATE TABLE port_leases (
     block        INTEGER PRIMARY KEY,
     env          TEXT NOT NULL UNIQUE,
     host         TEXT NOT NULL DEFAULT 'localhost',
     leased_at_ms INTEGER NOT NULL
   );`,
  // 2: each env's desired lifecycle state and the resolved env its stack was last given.
  `ALTER TABLE envs ADD COLUMN state TEXT NOT NULL DEFAULT 'warm';
   ALTER TABLE envs ADD COLUMN env_json TEXT;`,
  // 3: hosts envs can run on (lib/hosts/catalog.ts): connection, SSH access, status, heartbeat, devices.
  `CREATE TABLE hosts (
     id                TEXT PRIMARY KEY,
     host              TEXT NOT NULL,
     port              INTEGER NOT NULL,
     ssh_host          TEXT,
     ssh_port          INTEGER,
     ssh_user          TEXT,
     status            TEXT NOT NULL DEFAULT 'unknown'
                       CHECK (status IN ('unknown', 'online', 'offline')),
     last_heartbeat_ms INTEGER,
     devices_json      TEXT,
     created_at_ms     INTEGER NOT NULL,
     updated_at_ms     INTEGER NOT NULL
   );
   CREATE INDEX hosts_status ON hosts (status);
   CREATE INDEX hosts_heartbeat ON hosts (last_heartbeat_ms);`,
  // 4: who runs an operation on an env (lib/catalog/locks.ts): one row per env while it runs.
  `CREATE TABLE env_locks (
     env            TEXT PRIMARY KEY,
     token          TEXT NOT NULL,
     verb           TEXT NOT NULL,
     pid            INTEGER NOT NULL,
     start_ticks    INTEGER,
     boot_id        TEXT,
     host           TEXT NOT NULL,
     acquired_at_ms INTEGER NOT NULL
   );`,
];

/** The newest schema this build understands. */
export const LATEST_SCHEMA = MIGRATIONS.length;

const CREATE_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version       INTEGER PRIMARY KEY,
  applied_at_ms INTEGER NOT NULL
)`;

/** Highest applied migration, 0 for a fresh file. */
export function readSchemaVersion(db: Database.Database): number {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    .get();
  if (table === undefined) return 0;
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_version").get() as {
    v: number | null;
  };
  return row.v ?? 0;
}

/** Throws when `version` is newer than this build knows: never read or write such a file. */
export function refuseNewer(version: number, latest: number): void {
  if (version > latest) {
    throw new Error(
      `catalog.db was written by a newer envctl (schema ${version}); this envctl knows up to ${latest}`,
    );
  }
}

/**
 * Bring `db` up to `migrations.length`. Pending steps run in one IMMEDIATE transaction that
 * re-reads the version under the write lock, so processes opening a fresh file at the same
 * time apply each step exactly once. An up-to-date file takes no write lock at all.
 */
export function migrate(
  db: Database.Database,
  migrations: readonly string[] = MIGRATIONS,
  nowMs: () => number = Date.now,
): number {
  const latest = migrations.length;
  const seen = readSchemaVersion(db);
  refuseNewer(seen, latest);
  if (seen === latest) return latest;

  db.transaction(() => {
    db.exec(CREATE_VERSION_TABLE);
    const current = readSchemaVersion(db);
    refuseNewer(current, latest);
    const record = db.prepare("INSERT INTO schema_version (version, applied_at_ms) VALUES (?, ?)");
    // One transaction, one moment: every step it applies records the same time.
    const appliedAt = nowMs();
    for (let version = current + 1; version <= latest; version++) {
      db.exec(migrations[version - 1]!);
      record.run(version, appliedAt);
    }
  }).immediate();
  return latest;
}
