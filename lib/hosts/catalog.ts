/**
 * The host catalog: where environments can run (this machine, SSH hosts, VMs envctl creates),
 * with connection, SSH access, device capabilities, status and last heartbeat, in the `hosts`
 * table of catalog.db (migration 3). Input is checked with zod and every problem names its
 * field (`devices.gpus[0].vramGb: must be >= 0`); a bad value, a duplicate id or a missing one
 * is a HostError, never a silent no-op, and a failed call leaves the table as it was. Every
 * write is one statement, so it is atomic on its own; heartbeats keep the newer of the stored
 * and the given timestamp inside that statement, so concurrent writers never move one back.
 * Validation and the parsers are in lib/hosts/validate.ts, re-exported from here.
 */
import type Database from "better-sqlite3";
import {
  describe,
  formatHostIssue,
  HostError,
  isObject,
  parseStatus,
  timestamp,
  validateDevices,
  validateHostRecord,
  validateNewHost,
  type HostIssue,
} from "./validate";
import type { DeviceCapabilities, HostRecord, HostStatus, NewHost } from "./model";

// Part of this module's API: callers import HostError, parseSshSpec, ... from here.
export * from "./validate";
export * from "./model";

/** The host `ensureLocalhost` registers: this machine's Docker engine port, no SSH. */
export const LOCALHOST: NewHost = { id: "localhost", host: "127.0.0.1", port: 2375 };

// ---- storage -----------------------------------------------------------------------------

interface HostRow {
  id: string;
  host: string;
  port: number;
  ssh_host: string | null;
  ssh_port: number | null;
  ssh_user: string | null;
  status: string;
  last_heartbeat_ms: number | null;
  devices_json: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

function toHost(row: HostRow): HostRecord {
  return {
    id: row.id,
    host: row.host,
    port: row.port,
    sshHost: row.ssh_host,
    sshPort: row.ssh_port,
    sshUser: row.ssh_user,
    // The table's CHECK constraint admits only HOST_STATUSES.
    status: row.status as HostStatus,
    lastHeartbeatMs: row.last_heartbeat_ms,
    // Written only after validation, so read back without re-checking (list stays cheap).
    devices:
      row.devices_json === null ? null : (JSON.parse(row.devices_json) as DeviceCapabilities),
    createdAtMs: row.created_at_ms,
    updatedAtMs: row.updated_at_ms,
  };
}

function hostParams(h: NewHost | HostRecord, nowMs: number): Record<string, unknown> {
  return {
    id: h.id,
    host: h.host,
    port: h.port,
    sshHost: h.sshHost ?? null,
    sshPort: h.sshPort ?? null,
    sshUser: h.sshUser ?? null,
    status: h.status ?? "unknown",
    devicesJson: h.devices ? JSON.stringify(h.devices) : null,
    lastHeartbeatMs: "lastHeartbeatMs" in h ? h.lastHeartbeatMs : null,
    nowMs,
  };
}

function invalid(what: string, issues: HostIssue[]): HostError {
  return new HostError("invalid", `${what}: ${issues.map(formatHostIssue).join("; ")}`, issues);
}

function notFound(verb: string, id: string): HostError {
  return new HostError("not_found", `cannot ${verb} host "${id}": it is not in the catalog`);
}

function nameOf(input: unknown): string {
  return isObject(input) && typeof input.id === "string" ? ` "${input.id}"` : "";
}

export class HostCatalog {
  private readonly stmts;

  /** Uses an open better-sqlite3 handle of catalog.db (already migrated). */
  constructor(private readonly db: Database.Database) {
    const select = (where: string) =>
      db.prepare<unknown[], HostRow>(`SELECT * FROM hosts ${where} ORDER BY id`);
    const cols = `id, host, port, ssh_host, ssh_port, ssh_user, status, devices_json,
                  created_at_ms, updated_at_ms`;
    const vals = `@id, @host, @port, @sshHost, @sshPort, @sshUser, @status, @devicesJson,
                  @nowMs, @nowMs`;
    this.stmts = {
      get: db.prepare<[string], HostRow>("SELECT * FROM hosts WHERE id = ?"),
      exists: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM hosts WHERE id = ?"),
      list: select(""),
      byStatus: select("WHERE status = ?"),
      stale: select("WHERE last_heartbeat_ms IS NULL OR last_heartbeat_ms < ?"),
      withDevices: select("WHERE devices_json IS NOT NULL"),
      withoutDevices: select("WHERE devices_json IS NULL"),
      count: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM hosts"),
      countByStatus: db.prepare<[string], { n: number }>(
        "SELECT COUNT(*) AS n FROM hosts WHERE status = ?",
      ),
      insert: db.prepare<[Record<string, unknown>], HostRow>(
        `INSERT INTO hosts (${cols}) VALUES (${vals}) RETURNING *`,
      ),
      insertIfMissing: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO hosts (${cols}) VALUES (${vals}) ON CONFLICT (id) DO NOTHING`,
      ),
      // The heartbeat keeps the newer of stored and given (a null leaves it), so a full update
      // built from an older read never undoes a heartbeat written since.
      update: db.prepare<[Record<string, unknown>], HostRow>(
        `UPDATE hosts SET host = @host, port = @port, ssh_host = @sshHost, ssh_port = @sshPort,
           ssh_user = @sshUser, status = @status, devices_json = @devicesJson,
           last_heartbeat_ms = MAX(COALESCE(last_heartbeat_ms, @lastHeartbeatMs),
                                   COALESCE(@lastHeartbeatMs, last_heartbeat_ms)),
           updated_at_ms = @nowMs
         WHERE id = @id RETURNING *`,
      ),
      setStatus: db.prepare<[string, number, string]>(
        "UPDATE hosts SET status = ?, updated_at_ms = ? WHERE id = ?",
      ),
      // Newest wins inside one statement: no read-then-write for concurrent writers to race.
      heartbeat: db.prepare<[{ ts: number; nowMs: number; id: string }]>(
        `UPDATE hosts SET last_heartbeat_ms = MAX(COALESCE(last_heartbeat_ms, @ts), @ts),
           updated_at_ms = @nowMs WHERE id = @id`,
      ),
      setDevices: db.prepare<[string, number, string]>(
        "UPDATE hosts SET devices_json = ?, updated_at_ms = ? WHERE id = ?",
      ),
      remove: db.prepare<[string]>("DELETE FROM hosts WHERE id = ?"),
    };
  }

  /** Throws HostError duplicate when the id exists, invalid (with issues) for bad input. */
  add(h: NewHost, nowMs: number = Date.now()): HostRecord {
    const { value, issues } = validateNewHost(h);
    if (!value) throw invalid(`cannot add host${nameOf(h)}`, issues);
    try {
      return toHost(this.stmts.insert.get(hostParams(value, nowMs))!);
    } catch (err) {
      if ((err as { code?: unknown }).code !== "SQLITE_CONSTRAINT_PRIMARYKEY") throw err;
      throw new HostError(
        "duplicate",
        `cannot add host "${value.id}": it is already in the catalog`,
        [{ path: "id", message: "is already in the catalog" }],
      );
    }
  }

  get(id: string): HostRecord | undefined {
    const row = this.stmts.get.get(id);
    return row && toHost(row);
  }

  /** All hosts, ordered by id. */
  list(): HostRecord[] {
    return this.stmts.list.all().map(toHost);
  }

  /**
   * Replaces every field but `createdAtMs` (kept) and `updatedAtMs` (nowMs). The heartbeat
   * never goes backwards: the newer of the stored and the given one is kept.
   */
  update(h: HostRecord, nowMs: number = Date.now()): HostRecord {
    const { value, issues } = validateHostRecord(h);
    if (!value) throw invalid(`cannot update host${nameOf(h)}`, issues);
    const row = this.stmts.update.get(hostParams(value, nowMs));
    if (!row) throw notFound("update", value.id);
    return toHost(row);
  }

  updateStatus(id: string, status: HostStatus, nowMs: number = Date.now()): void {
    const checked = parseStatus(String(status));
    if (this.stmts.setStatus.run(checked, nowMs, id).changes === 0) {
      throw notFound("set the status of", id);
    }
  }

  /** Newest wins: stores max(existing, timestampMs) in one statement, so concurrent writers never go backwards. */
  updateHeartbeat(id: string, timestampMs: number, nowMs: number = Date.now()): void {
    const { success } = timestamp.safeParse(timestampMs);
    if (!success) {
      const message = `must be a whole number of ms >= 0, got ${describe(timestampMs)}`;
      throw invalid(`cannot record a heartbeat for host "${id}"`, [
        { path: "timestampMs", message },
      ]);
    }
    if (this.stmts.heartbeat.run({ ts: timestampMs, nowMs, id }).changes === 0) {
      throw notFound("record a heartbeat for", id);
    }
  }

  updateDevices(id: string, devices: DeviceCapabilities, nowMs: number = Date.now()): void {
    const { value, issues } = validateDevices(devices);
    if (!value) throw invalid(`cannot set the devices of host "${id}"`, issues);
    if (this.stmts.setDevices.run(JSON.stringify(value), nowMs, id).changes === 0) {
      throw notFound("set the devices of", id);
    }
  }

  /** Whether envs are placed on the host is the caller's check (Catalog.envsOnHost). */
  remove(id: string): void {
    if (this.stmts.remove.run(id).changes === 0) throw notFound("remove", id);
  }

  findByStatus(status: HostStatus): HostRecord[] {
    return this.stmts.byStatus.all(parseStatus(String(status))).map(toHost);
  }

  online(): HostRecord[] {
    return this.findByStatus("online");
  }

  offline(): HostRecord[] {
    return this.findByStatus("offline");
  }

  count(): number {
    return this.stmts.count.get()!.n;
  }

  countByStatus(status: HostStatus): number {
    return this.stmts.countByStatus.get(parseStatus(String(status)))!.n;
  }

  exists(id: string): boolean {
    return this.stmts.exists.get(id) !== undefined;
  }

  /** Hosts whose last heartbeat is older than maxAgeMs before nowMs, or that never sent one. */
  findStale(maxAgeMs: number, nowMs: number = Date.now()): HostRecord[] {
    if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) {
      const message = `must be a number of ms >= 0, got ${describe(maxAgeMs)}`;
      throw invalid("cannot look for stale hosts", [{ path: "maxAgeMs", message }]);
    }
    return this.stmts.stale.all(nowMs - maxAgeMs).map(toHost);
  }

  withDevices(): HostRecord[] {
    return this.stmts.withDevices.all().map(toHost);
  }

  withoutDevices(): HostRecord[] {
    return this.stmts.withoutDevices.all().map(toHost);
  }

  /** Registers `localhost` (host 127.0.0.1, port 2375, no SSH) unless it exists; returns the row. */
  ensureLocalhost(nowMs: number = Date.now()): HostRecord {
    const found = this.get(LOCALHOST.id);
    if (found) return found;
    // Insert-if-missing and read back under one write lock: another process may race us.
    return this.db
      .transaction((): HostRecord => {
        this.stmts.insertIfMissing.run(hostParams(LOCALHOST, nowMs));
        return this.get(LOCALHOST.id)!;
      })
      .immediate();
  }
}
