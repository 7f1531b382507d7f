/**
 * The host catalog: where environments can run (this machine, SSH hosts, VMs envctl creates),
 * with connection, SSH access, device capabilities, status and last heartbeat, in the `hosts`
 * table of catalog.db (migration 3). Input is checked with zod and every problem names its
 * field (`devices.gpus[0].vramGb: must be >= 0`); a bad value, a duplicate id or a missing one
 * is a HostError, never a silent no-op, and a failed call leaves the table as it was. Every
 * write is one statement, so it is atomic on its own; heartbeats keep the newer of the stored
 * and the given timestamp inside that statement, so concurrent writers never move one back.
 */
import * as net from "node:net";
import type Database from "better-sqlite3";
import { z } from "zod";

export const HOST_STATUSES = ["unknown", "online", "offline"] as const;
export type HostStatus = (typeof HOST_STATUSES)[number];

export interface CpuDevice {
  cores: number;
  ramGb: number;
}
export interface GpuDevice {
  index: number;
  name: string;
  vramGb: number;
}
export interface DeviceCapabilities {
  cpu: CpuDevice | null;
  gpus: GpuDevice[];
}

export interface HostRecord {
  /** DNS label, the key (`localhost`, `gpu-box-1`). */
  id: string;
  /** Hostname or IP literal (IPv6 without brackets), lowercased. */
  host: string;
  port: number;
  /** SSH access; null for hosts reached without SSH. A null sshPort means SSH's default. */
  sshHost: string | null;
  sshPort: number | null;
  sshUser: string | null;
  status: HostStatus;
  /** Newest heartbeat ever written, ms since epoch; null if none yet. */
  lastHeartbeatMs: number | null;
  /** null until detected. */
  devices: DeviceCapabilities | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** What `add` takes: id, host, port required; the rest optional (status defaults to unknown). */
export type NewHost = Pick<HostRecord, "id" | "host" | "port"> &
  Partial<Pick<HostRecord, "sshHost" | "sshPort" | "sshUser" | "status" | "devices">>;

/** One problem with the input: the field's dot-path (`port`, `devices.gpus[0].name`) and why. */
export interface HostIssue {
  path: string;
  message: string;
}

/** Thrown for bad input and missing/duplicate ids; `issues` name the fields. */
export class HostError extends Error {
  constructor(
    readonly kind: "invalid" | "not_found" | "duplicate",
    message: string,
    readonly issues: HostIssue[] = [],
  ) {
    super(message);
    this.name = "HostError";
  }
}

/** `port: must be 1..65535`; an issue about the whole input is just its message. */
export function formatHostIssue(i: HostIssue): string {
  return i.path ? `${i.path}: ${i.message}` : i.message;
}

/** The host `ensureLocalhost` registers: this machine's Docker engine port, no SSH. */
export const LOCALHOST: NewHost = { id: "localhost", host: "127.0.0.1", port: 2375 };

// ---- validation --------------------------------------------------------------------------

const ID_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const SSH_USER_RE = /^[a-z_][a-z0-9_.-]{0,31}$/i;
const PORT_MSG = "must be 1..65535";
const ID_MSG =
  "must be a DNS label: 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit";
const USER_MSG =
  "must be a user name: a letter or '_', then up to 31 letters, digits, '_', '.', '-'";

/** A hostname (RFC 1123 labels) or IP literal, lowercased and without IPv6 brackets; else undefined. */
export function normalizeHost(text: string): string | undefined {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (net.isIPv6(bare)) return bare.toLowerCase();
  if (bare !== text) return undefined;
  if (net.isIPv4(text)) return text;
  // All digits and dots but not an IPv4 address (256.1.1.1, 1.2.3): a typo, not a hostname.
  if (/^[\d.]+$/.test(text) || text.length > 253) return undefined;
  return text.split(".").every((l) => LABEL_RE.test(l)) ? text.toLowerCase() : undefined;
}

const nullish = <T extends z.ZodType>(schema: T) =>
  schema.nullish().transform((v): z.output<T> | null => v ?? null);

const port = z.number().int("must be a whole number").min(1, PORT_MSG).max(65535, PORT_MSG);
const hostName = z
  .string()
  .refine((s) => normalizeHost(s) !== undefined, {
    error: (iss) => `must be a hostname or an IP address, got ${JSON.stringify(iss.input)}`,
  })
  .transform((s) => normalizeHost(s)!);
const timestamp = z.number().int("must be a whole number of ms").min(0, "must be >= 0");
const status = z.enum(HOST_STATUSES);

const devicesSchema = z.strictObject({
  cpu: nullish(
    z.strictObject({
      cores: z.number().int("must be a whole number").min(1, "must be at least 1"),
      ramGb: z.number().min(0, "must be >= 0"),
    }),
  ),
  gpus: z
    .array(
      z.strictObject({
        index: z.number().int("must be a whole number").min(0, "must be >= 0"),
        name: z.string().trim().min(1, "must not be empty"),
        vramGb: z.number().min(0, "must be >= 0"),
      }),
    )
    .nullish()
    .transform((v) => v ?? []),
});

const hostFields = {
  id: z.string().regex(ID_RE, ID_MSG),
  host: hostName,
  port,
  sshHost: nullish(hostName),
  sshPort: nullish(port),
  sshUser: nullish(z.string().regex(SSH_USER_RE, USER_MSG)),
  devices: nullish(devicesSchema),
};
const newHostSchema = z.object({
  ...hostFields,
  status: status.nullish().transform((v) => v ?? "unknown"),
});
const hostRecordSchema = z.object({
  ...hostFields,
  status,
  lastHeartbeatMs: nullish(timestamp),
  createdAtMs: timestamp,
  updatedAtMs: timestamp,
});

type Validated<T> = { value?: T; issues: HostIssue[] };

/** zod's issues (paths under `prefix`) and the cross-field `rules`; the value only if neither. */
function validate<T>(
  schema: z.ZodType<T>,
  input: unknown,
  rules: HostIssue[],
  prefix: PropertyKey[] = [],
): Validated<T> {
  const parsed = schema.safeParse(input);
  const zodIssues = parsed.success ? [] : zodHostIssues(parsed.error.issues, input, prefix);
  const issues = [...zodIssues, ...rules];
  return issues.length === 0 && parsed.success ? { value: parsed.data, issues } : { issues };
}

/** zod-validated; returns the issues (dot-paths) or the normalized value (nulls, not undefined). */
export function validateNewHost(input: unknown): Validated<NewHost> {
  return validate(newHostSchema, input, hostRules(input));
}

export function validateHostRecord(input: unknown): Validated<HostRecord> {
  return validate(hostRecordSchema, input, hostRules(input));
}

/** Device capabilities as stored: paths start at `devices`. */
export function validateDevices(input: unknown): Validated<DeviceCapabilities> {
  return validate(devicesSchema, input, gpuRules(input), ["devices"]);
}

/** Devices from JSON text (`host detect`, `--devices`); text that does not parse is an issue too. */
export function parseDevicesJson(text: string): Validated<DeviceCapabilities> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return {
      issues: [{ path: "devices", message: `is not valid JSON: ${(err as Error).message}` }],
    };
  }
  return validateDevices(data);
}

/** `online`, `Offline` -> the status; anything else throws naming the allowed values. */
export function parseStatus(text: string): HostStatus {
  const s = text.trim().toLowerCase();
  if ((HOST_STATUSES as readonly string[]).includes(s)) return s as HostStatus;
  const message = `must be one of ${HOST_STATUSES.join(", ")}, got ${JSON.stringify(text)}`;
  throw new HostError("invalid", `unknown host status: ${message}`, [{ path: "status", message }]);
}

/**
 * `user@host[:port]` or `host[:port]` (IPv6 in brackets: `root@[::1]:2222`) -> parts, port 22
 * when not given; throws HostError("invalid") with one issue at path `ssh`.
 */
export function parseSshSpec(spec: string): { user: string | null; host: string; port: number } {
  function fail(why: string): never {
    const message = `${JSON.stringify(spec)}: ${why}`;
    throw new HostError("invalid", `invalid SSH spec ${message}`, [{ path: "ssh", message }]);
  }
  const m = /^(?:([^@]*)@)?(\[[^\]]*\]|[^:@[\]]*)(?::([^:]*))?$/.exec(spec);
  if (!m) fail("expected user@host[:port] or host[:port], IPv6 addresses in brackets ([::1]:22)");
  const [, user, hostText = "", portText] = m;
  if (user !== undefined && !SSH_USER_RE.test(user)) {
    fail(user === "" ? "the user is empty" : `${JSON.stringify(user)} is not a valid user name`);
  }
  const host = normalizeHost(hostText);
  if (host === undefined) {
    fail(
      hostText === ""
        ? "the host is missing"
        : `${JSON.stringify(hostText)} is not a hostname or IP address`,
    );
  }
  const portNum = portText === undefined ? 22 : /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
  if (portNum < 1 || portNum > 65535) fail(`port ${JSON.stringify(portText)} is not 1..65535`);
  return { user: user ?? null, host, port: portNum };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Rules across fields, checked on the raw input so they show up next to zod's issues. */
function hostRules(input: unknown): HostIssue[] {
  if (!isObject(input)) return [];
  const out: HostIssue[] = [];
  if (input.sshHost === undefined || input.sshHost === null) {
    for (const key of ["sshUser", "sshPort"]) {
      if (input[key] !== undefined && input[key] !== null) {
        out.push({ path: key, message: "is only allowed together with sshHost" });
      }
    }
  }
  return [...out, ...gpuRules(input.devices)];
}

function gpuRules(devices: unknown): HostIssue[] {
  if (!isObject(devices) || !Array.isArray(devices.gpus)) return [];
  const seen = new Map<unknown, number>();
  const out: HostIssue[] = [];
  devices.gpus.forEach((gpu: unknown, i) => {
    if (!isObject(gpu) || typeof gpu.index !== "number") return;
    const first = seen.get(gpu.index);
    if (first === undefined) seen.set(gpu.index, i);
    else
      out.push({
        path: `devices.gpus[${i}].index`,
        message: `duplicate GPU index ${gpu.index} (also at devices.gpus[${first}])`,
      });
  });
  return out;
}

function zodHostIssues(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  prefix: PropertyKey[],
): HostIssue[] {
  return issues.flatMap((issue): HostIssue[] => {
    const path = dotPath([...prefix, ...issue.path]);
    const value = valueAt(root, issue.path);
    switch (issue.code) {
      case "invalid_type":
        if (value === undefined) return [{ path, message: "required" }];
        if (issue.expected === "int") return [{ path, message: issue.message }];
        return [{ path, message: `must be ${article(issue.expected)}, got ${describe(value)}` }];
      case "unrecognized_keys":
        return issue.keys.map((k) => ({
          path: dotPath([...prefix, ...issue.path, k]),
          message: "unknown field",
        }));
      case "invalid_value":
        return [
          { path, message: `must be one of ${issue.values.join(", ")}, got ${describe(value)}` },
        ];
      default:
        return [{ path, message: issue.message }];
    }
  });
}

/** `["devices", "gpus", 0, "name"]` -> `devices.gpus[0].name`. */
function dotPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`))
    .join("");
}

function valueAt(root: unknown, at: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const seg of at) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function article(expected: string): string {
  return expected === "object" ? "an object" : expected === "array" ? "a list" : `a ${expected}`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return `${typeof v} ${String(v)}`;
  return typeof v;
}

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
