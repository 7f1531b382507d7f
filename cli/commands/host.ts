/**
 * `envctl host ...`: the host catalog from the command line. Input is validated before the
 * catalog is opened, so bad input exits 2 and leaves catalog.db untouched; `localhost` is
 * registered by the first host command that writes (add, rm, check, detect, stale
 * --mark-offline), and shown as registered by the ones that only read (list, show, stale).
 */
import { quote } from "../../lib/core/display";
import { badInput, UserError } from "../../lib/core/errors";
import {
  formatAge,
  parseDuration,
  sshTarget,
  summarizeDevices,
  LOCALHOST_ID,
} from "../../lib/hosts/check";
import {
  HostError,
  parseSshSpec,
  parseStatus,
  validateNewHost,
  type HostIssue,
  type HostRecord,
  type HostStatus,
  type NewHost,
} from "../../lib/hosts/catalog";
import { sshLabel } from "../../lib/hosts/ssh";
import { seams, type CommandSeams } from "../context";
import { jsonDoc, table } from "../ui/output";
import {
  checkId,
  DEFAULT_PORT,
  invalid,
  iso,
  mustExist,
  mustGet,
  readingCatalog,
  userError,
  withCatalog,
} from "./host-remote";

// check and detect live in host-remote.ts; cli/index.ts loads every host command from here.
export {
  hostCheck,
  hostDetect,
  type HostCheckOptions,
  type HostDetectOptions,
} from "./host-remote";

// ---- shapes ----------------------------------------------------------------------------------

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
  if (Number.isNaN(port)) {
    issues.push({ path: "port", message: `${quote(o.port ?? "")} is not a number` });
  }
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
  const hosts = readingCatalog(s, undefined, (c) =>
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
  mustExist(s.home, opts.id);
  const { h, envs } = readingCatalog(s, opts.id, (c) => ({
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
  mustExist(s.home, opts.id);
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
    throw badInput(`max-age: ${quote(opts.maxAge)} is not a duration like 500ms, 60s or 5m`);
  }
  const nowMs = Date.now();
  const stale = (opts.markOffline ? withCatalog : readingCatalog)(s, undefined, (c) => {
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
