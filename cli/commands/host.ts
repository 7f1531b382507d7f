/**
 * `envctl host ...`: the host catalog from the command line. Input is validated before the
 * catalog is opened, so bad input exits 2 and leaves catalog.db untouched; `localhost` is
 * registered by the first host command that opens it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Catalog } from "../../lib/catalog";
import { badInput, UserError } from "../../lib/errors";
import type { Home } from "../../lib/home";
import {
  detectDevices,
  DetectError,
  formatAge,
  isLocal,
  localRunner,
  parseDuration,
  probeHost,
  sshRunner,
  sshTarget,
  summarizeDevices,
  LOCALHOST_ID,
  type ProbeResult,
} from "../../lib/host-probe";
import {
  formatHostIssue,
  HostError,
  parseSshSpec,
  parseStatus,
  validateNewHost,
  type HostIssue,
  type HostRecord,
  type HostStatus,
  type NewHost,
} from "../../lib/hosts";
import { sshLabel, type SshOptions } from "../../lib/ssh";
import { openCatalog, seams, type CommandSeams } from "../context";
import { jsonDoc, table } from "../output";

const DEFAULT_PORT = 2375; // the Docker engine's plain-HTTP port
const DEFAULT_TIMEOUT = "5s";

// ---- errors ----------------------------------------------------------------------------------

function issueLines(issues: HostIssue[]): string[] {
  return issues.map(formatHostIssue);
}

function invalid(issues: HostIssue[]): UserError {
  const lines = issueLines(issues);
  if (lines.length === 1) return badInput(lines[0]!);
  return badInput(`invalid input (${lines.length} problems)`, lines);
}

function notFound(id: string): UserError {
  return badInput(`host ${id} does not exist`, [
    "see `envctl host list` for the hosts in this ENVCTL_HOME",
  ]);
}

/** HostError -> UserError (exit 2); `id` names the host for duplicate / not-found wording. */
function userError(err: unknown, id?: string): unknown {
  if (!(err instanceof HostError)) return err;
  switch (err.kind) {
    case "invalid":
      return invalid(
        err.issues.length > 0 ? err.issues : [{ path: "input", message: err.message }],
      );
    case "duplicate":
      return badInput(`host ${id ?? "?"} already exists`, [
        `see \`envctl host show ${id ?? "ID"}\`; remove it first with \`envctl host rm\` to re-add it`,
      ]);
    case "not_found":
      return id === undefined ? badInput(err.message) : notFound(id);
  }
}

/** Checks an id with the catalog's own rule, before anything is opened. */
function checkId(id: string): void {
  const { issues } = validateNewHost({ id, host: "127.0.0.1", port: DEFAULT_PORT });
  const idIssues = issues.filter((i) => i.path === "id" || i.path.startsWith("id."));
  if (idIssues.length > 0) throw invalid(idIssues);
}

/**
 * Opens the catalog with `localhost` registered and runs `fn`; HostErrors become UserErrors.
 */
function withCatalog<T>(s: { home: Home }, id: string | undefined, fn: (c: Catalog) => T): T {
  const catalog = openCatalog(s.home);
  try {
    catalog.hosts.ensureLocalhost();
    return fn(catalog);
  } catch (err) {
    throw userError(err, id);
  } finally {
    catalog.close();
  }
}

function mustGet(catalog: Catalog, id: string): HostRecord {
  const h = catalog.hosts.get(id);
  if (!h) throw notFound(id);
  return h;
}

// ---- shapes ----------------------------------------------------------------------------------

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A host as `--json` prints it. */
export function hostJson(h: HostRecord): Record<string, unknown> {
  return {
    id: h.id,
    host: h.host,
    port: h.port,
    ssh: h.sshHost === null ? null : { user: h.sshUser, host: h.sshHost, port: h.sshPort ?? 22 },
    status: h.status,
    lastHeartbeat: iso(h.lastHeartbeatMs),
    devices: h.devices,
    createdAt: iso(h.createdAtMs),
    updatedAt: iso(h.updatedAtMs),
  };
}

function sshCell(h: HostRecord): string {
  const t = sshTarget(h);
  return t ? sshLabel(t) : "-";
}

function hostsTable(hosts: HostRecord[], nowMs: number): string {
  return table(
    ["id", "address", "ssh", "status", "heartbeat", "devices"],
    hosts.map((h) => [
      h.id,
      `${h.host}:${h.port}`,
      sshCell(h),
      h.status,
      formatAge(h.lastHeartbeatMs, nowMs),
      summarizeDevices(h.devices),
    ]),
  );
}

// ---- add / list / show / rm ------------------------------------------------------------------

export interface HostAddOptions extends CommandSeams {
  id: string;
  host: string;
  /** Docker engine port, as typed. @default "2375" */
  port?: string;
  /** SSH access: `user@host[:port]`. */
  ssh?: string;
  json?: boolean;
}

/** Turns the flags into a NewHost, collecting every problem (field: reason) before failing. */
export function newHostFromFlags(o: {
  id: string;
  host: string;
  port?: string;
  ssh?: string;
}): NewHost {
  const issues: HostIssue[] = [];
  const portText = (o.port ?? String(DEFAULT_PORT)).trim();
  const port = /^-?\d+$/.test(portText) ? Number(portText) : NaN;
  if (Number.isNaN(port)) issues.push({ path: "port", message: `"${o.port}" is not a number` });
  const input: Record<string, unknown> = { id: o.id, host: o.host, port };
  if (o.ssh !== undefined) {
    try {
      const spec = parseSshSpec(o.ssh);
      Object.assign(input, { sshHost: spec.host, sshPort: spec.port, sshUser: spec.user });
    } catch (err) {
      if (!(err instanceof HostError)) throw err;
      issues.push(
        ...(err.issues.length > 0 ? err.issues : [{ path: "ssh", message: err.message }]),
      );
    }
  }
  const { value, issues: more } = validateNewHost(input);
  // A non-numeric port is already reported in our words; drop the schema's echo of it.
  issues.push(...more.filter((i) => !(Number.isNaN(port) && i.path === "port")));
  if (issues.length > 0 || !value) throw invalid(issues);
  return value;
}

export function hostAdd(opts: HostAddOptions): void {
  const s = seams(opts);
  const spec = newHostFromFlags(opts);
  const added = withCatalog(s, spec.id, (c) => c.hosts.add(spec));
  if (opts.json) {
    s.out(jsonDoc("host-add", { host: hostJson(added) }));
    return;
  }
  const ssh = added.sshHost === null ? "" : `, ssh ${sshCell(added)}`;
  s.out(`added host ${added.id} (${added.host}:${added.port}${ssh})`);
  s.log(
    `check it with \`envctl host check ${added.id}\`; read its devices with \`envctl host detect ${added.id}\``,
  );
}

export interface HostListOptions extends CommandSeams {
  status?: string;
  json?: boolean;
}

export function hostList(opts: HostListOptions): void {
  const s = seams(opts);
  let status: HostStatus | undefined;
  if (opts.status !== undefined) {
    try {
      status = parseStatus(opts.status);
    } catch (err) {
      throw userError(err);
    }
  }
  const hosts = withCatalog(s, undefined, (c) =>
    status === undefined ? c.hosts.list() : c.hosts.findByStatus(status),
  );
  if (opts.json) {
    s.out(jsonDoc("host-list", { hosts: hosts.map(hostJson) }));
    return;
  }
  if (hosts.length === 0) {
    s.out(status === undefined ? "no hosts" : `no ${status} hosts`);
    return;
  }
  s.out(hostsTable(hosts, Date.now()));
}

export interface HostShowOptions extends CommandSeams {
  id: string;
  json?: boolean;
}

export function hostShow(opts: HostShowOptions): void {
  const s = seams(opts);
  checkId(opts.id);
  const { h, envs } = withCatalog(s, opts.id, (c) => ({
    h: mustGet(c, opts.id),
    envs: c.envsOnHost(opts.id),
  }));
  if (opts.json) {
    s.out(jsonDoc("host-show", { host: hostJson(h), envs }));
    return;
  }
  const rows: [string, string][] = [
    ["id", h.id],
    ["address", `${h.host}:${h.port}`],
    ["ssh", sshCell(h)],
    ["status", h.status],
    ["heartbeat", formatAge(h.lastHeartbeatMs)],
    ["devices", summarizeDevices(h.devices)],
    ...(h.devices?.gpus ?? []).map((g): [string, string] => [
      `  gpu ${g.index}`,
      `${g.name}, ${g.vramGb} GB`,
    ]),
    ["envs", envs.length === 0 ? "-" : envs.join(", ")],
    ["created", iso(h.createdAtMs) ?? "-"],
    ["updated", iso(h.updatedAtMs) ?? "-"],
  ];
  s.out(rows.map(([k, v]) => `${(k + ":").padEnd(11)} ${v}`).join("\n"));
}

export interface HostRmOptions extends CommandSeams {
  id: string;
  /** Remove even while envs are placed on it, or when it is localhost. */
  force?: boolean;
  json?: boolean;
}

export function hostRm(opts: HostRmOptions): void {
  const s = seams(opts);
  checkId(opts.id);
  const envs = withCatalog(s, opts.id, (c) => {
    mustGet(c, opts.id);
    const placed = c.envsOnHost(opts.id);
    if (!opts.force) {
      if (placed.length > 0) {
        throw new UserError(`host ${opts.id} has envs placed on it: ${placed.join(", ")}`, 1, [
          "destroy them first (`envctl destroy NAME`), or pass --force to remove the host anyway",
        ]);
      }
      if (opts.id === LOCALHOST_ID) {
        throw new UserError("localhost is this machine; remove it only with --force", 1, [
          "the next `envctl host` command registers it again",
        ]);
      }
    }
    c.hosts.remove(opts.id);
    return placed;
  });
  if (envs.length > 0)
    s.log(`warning: envs still name ${opts.id} as their host: ${envs.join(", ")}`);
  if (opts.json) {
    s.out(jsonDoc("host-rm", { removed: opts.id, envs }));
    return;
  }
  s.out(`removed host ${opts.id}`);
}

// ---- check / detect --------------------------------------------------------------------------

interface RemoteOptions {
  /** SSH private key; ENVCTL_SSH_KEY when omitted. */
  identity?: string;
  /** Per-host limit, as a duration ("5s"). @default "5s" */
  timeout?: string;
}

function remoteSettings(
  s: ReturnType<typeof seams>,
  o: RemoteOptions,
): { timeoutMs: number; ssh: Omit<SshOptions, "timeoutMs" | "input"> } {
  const timeoutText = o.timeout ?? DEFAULT_TIMEOUT;
  const timeoutMs = parseDuration(timeoutText);
  if (timeoutMs === undefined) {
    throw badInput(`timeout: "${timeoutText}" is not a duration like 500ms, 5s or 1m`);
  }
  const identityText = o.identity ?? process.env.ENVCTL_SSH_KEY;
  let identity: string | undefined;
  if (identityText) {
    identity = path.resolve(s.cwd, identityText);
    if (!fs.existsSync(identity)) throw badInput(`identity: ${identity} does not exist`);
  }
  return {
    timeoutMs,
    ssh: { knownHostsFile: path.join(s.home.root, "known_hosts"), identity, signal: s.signal },
  };
}

async function dockerPing(): Promise<void> {
  const { docker, dockerReason } = await import("../../lib/docker-engine");
  try {
    await docker().ping();
  } catch (err) {
    throw new Error(dockerReason(err));
  }
}

export interface HostCheckOptions extends CommandSeams, RemoteOptions {
  /** Hosts to probe; every host when empty. */
  ids: string[];
  json?: boolean;
}

/** Probes hosts in parallel and records online/offline; 0 when all are online, else 1. */
export async function hostCheck(opts: HostCheckOptions): Promise<number> {
  const s = seams(opts);
  const ids = [...new Set(opts.ids)];
  ids.forEach(checkId);
  const settings = remoteSettings(s, opts);
  const hosts = withCatalog(s, undefined, (c) => {
    if (ids.length === 0) return c.hosts.list();
    return ids.map((id) => mustGet(c, id));
  });
  const results = await Promise.all(hosts.map((h) => probeHost(h, { ...settings, dockerPing })));
  const nowMs = Date.now();
  withCatalog(s, undefined, (c) => {
    for (const r of results) {
      if (!c.hosts.exists(r.id)) continue; // removed by another envctl meanwhile
      c.hosts.updateStatus(r.id, r.online ? "online" : "offline");
      if (r.online) c.hosts.updateHeartbeat(r.id, nowMs);
    }
  });
  const offline = results.filter((r) => !r.online).length;
  if (opts.json) {
    s.out(
      jsonDoc("host-check", {
        online: results.length - offline,
        offline,
        results: results.map((r) => checkJson(r, nowMs)),
      }),
    );
  } else {
    s.out(checkTable(results));
  }
  return offline === 0 ? 0 : 1;
}

function checkJson(r: ProbeResult, nowMs: number): Record<string, unknown> {
  return {
    id: r.id,
    status: r.online ? "online" : "offline",
    via: r.via,
    reason: r.reason,
    detail: r.detail,
    elapsedMs: r.elapsedMs,
    lastHeartbeat: r.online ? iso(nowMs) : null,
  };
}

function checkTable(results: ProbeResult[]): string {
  if (results.length === 0) return "no hosts to check";
  return table(
    ["id", "status", "via", "time", "reason"],
    results.map((r) => [
      r.id,
      r.online ? "online" : "offline",
      r.via,
      `${r.elapsedMs}ms`,
      (r.online ? r.detail : r.reason) ?? "-",
    ]),
  );
}

export interface HostDetectOptions extends CommandSeams, RemoteOptions {
  id: string;
  json?: boolean;
}

/** Reads CPU cores, RAM and GPUs (locally for localhost, else over SSH) and stores them. */
export async function hostDetect(opts: HostDetectOptions): Promise<void> {
  const s = seams(opts);
  checkId(opts.id);
  const settings = remoteSettings(s, opts);
  const h = withCatalog(s, opts.id, (c) => mustGet(c, opts.id));
  const target = sshTarget(h);
  if (!isLocal(h) && !target) {
    throw new UserError(`host ${h.id} has no SSH access: devices are read over SSH`, 1, [
      `register it with --ssh user@host[:port] (\`envctl host rm ${h.id}\`, then \`envctl host add\`)`,
    ]);
  }
  const run = target
    ? sshRunner(target, { ...settings.ssh, timeoutMs: settings.timeoutMs * 2 })
    : localRunner(settings.timeoutMs * 2);
  let detection;
  try {
    detection = await detectDevices(run);
  } catch (err) {
    if (err instanceof DetectError) {
      throw new UserError(`cannot detect the devices of ${h.id}: ${err.message}`);
    }
    throw err;
  }
  withCatalog(s, h.id, (c) => c.hosts.updateDevices(h.id, detection.devices));
  for (const w of detection.warnings) s.log(`warning: ${h.id}: ${w}`);
  if (opts.json) {
    s.out(
      jsonDoc("host-detect", {
        id: h.id,
        devices: detection.devices,
        warnings: detection.warnings,
      }),
    );
    return;
  }
  const lines = [`${h.id}: ${summarizeDevices(detection.devices)}`];
  for (const g of detection.devices.gpus) lines.push(`  gpu ${g.index}: ${g.name}, ${g.vramGb} GB`);
  s.out(lines.join("\n"));
}

// ---- stale -----------------------------------------------------------------------------------

export interface HostStaleOptions extends CommandSeams {
  /** Heartbeats older than this are stale ("60s"). */
  maxAge: string;
  markOffline?: boolean;
  json?: boolean;
}

export function hostStale(opts: HostStaleOptions): void {
  const s = seams(opts);
  const maxAgeMs = parseDuration(opts.maxAge);
  if (maxAgeMs === undefined) {
    throw badInput(`max-age: "${opts.maxAge}" is not a duration like 500ms, 60s or 5m`);
  }
  const nowMs = Date.now();
  const stale = withCatalog(s, undefined, (c) => {
    const found = c.hosts.findStale(maxAgeMs, nowMs);
    if (opts.markOffline) {
      for (const h of found) c.hosts.updateStatus(h.id, "offline");
      return found.map((h) => c.hosts.get(h.id) ?? h);
    }
    return found;
  });
  if (opts.json) {
    s.out(
      jsonDoc("host-stale", {
        maxAgeMs,
        markedOffline: Boolean(opts.markOffline),
        hosts: stale.map(hostJson),
      }),
    );
    return;
  }
  if (stale.length === 0) {
    s.out(`no host's heartbeat is older than ${opts.maxAge}`);
    return;
  }
  s.out(hostsTable(stale, nowMs));
  if (opts.markOffline) s.log(`marked ${stale.length} host(s) offline`);
}
