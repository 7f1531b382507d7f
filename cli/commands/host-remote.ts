/**
 * `envctl host check` and `envctl host detect`: the commands that reach hosts (Docker ping,
 * SSH). Also the helpers every `envctl host` command shares (input checks, HostError ->
 * UserError, opening the catalog): host.ts re-exports this file for cli/index.ts, so keeping
 * them here, not there, keeps the two files from requiring each other.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Catalog } from "../../lib/catalog/catalog";
import { quote } from "../../lib/core/display";
import { badInput, UserError } from "../../lib/core/errors";
import type { Home } from "../../lib/core/home";
import {
  detectDevices,
  DetectError,
  isLocal,
  localRunner,
  LOCALHOST_ID,
  parseDuration,
  probeHost,
  sshRunner,
  sshTarget,
  summarizeDevices,
  type ProbeResult,
} from "../../lib/hosts/check";
import {
  formatHostIssue,
  HostError,
  validateNewHost,
  type HostIssue,
  type HostRecord,
} from "../../lib/hosts/catalog";
import type { SshOptions } from "../../lib/hosts/ssh";
import { openCatalog, seams, type CommandSeams } from "../context";
import { jsonDoc, table } from "../ui/output";

export const DEFAULT_PORT = 2375; // the Docker engine's plain-HTTP port
const DEFAULT_TIMEOUT = "5s";

// ---- shared by every host command: errors, catalog access ------------------------------------

function issueLines(issues: HostIssue[]): string[] {
  return issues.map(formatHostIssue);
}

/** Bad input: the first problem on the message line (it alone names the field), others below. */
export function invalid(issues: HostIssue[]): UserError {
  const [first = "invalid input", ...rest] = issueLines(issues);
  return badInput(first, rest);
}

function notFound(id: string): UserError {
  return badInput(`host ${id} does not exist`, [
    "see `envctl host list` for the hosts in this ENVCTL_HOME",
  ]);
}

/** HostError -> UserError (exit 2); `id` names the host for duplicate / not-found wording. */
export function userError(err: unknown, id?: string): unknown {
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

/**
 * Refuses an id that cannot exist because there is no catalog yet (only localhost, registered
 * on first use, can), before opening the catalog would create it.
 */
export function mustExist(home: Home, id: string): void {
  if (id !== LOCALHOST_ID && !fs.existsSync(home.catalogFile)) throw notFound(id);
}

/** Checks an id with the catalog's own rule, before anything is opened. */
export function checkId(id: string): void {
  const { issues } = validateNewHost({ id, host: "127.0.0.1", port: DEFAULT_PORT });
  const idIssues = issues.filter((i) => i.path === "id" || i.path.startsWith("id."));
  if (idIssues.length > 0) throw invalid(idIssues);
}

/** Runs `fn` on `catalog` with `localhost` registered; HostErrors become UserErrors. */
function onCatalog<T>(catalog: Catalog, id: string | undefined, fn: (c: Catalog) => T): T {
  try {
    catalog.hosts.ensureLocalhost();
    return fn(catalog);
  } catch (err) {
    throw userError(err, id);
  } finally {
    catalog.close();
  }
}

/**
 * Opens the catalog with `localhost` registered and runs `fn`; HostErrors become UserErrors.
 */
export function withCatalog<T>(
  s: { home: Home },
  id: string | undefined,
  fn: (c: Catalog) => T,
): T {
  return onCatalog(openCatalog(s.home), id, fn);
}

/**
 * `withCatalog` for the commands that only read (list, show, stale without --mark-offline): `fn`
 * gets a copy of the catalog in memory, with `localhost` registered as the first writing host
 * command registers it, and nothing reaches catalog.db (nor makes one in a fresh home).
 */
export function readingCatalog<T>(
  s: { home: Home },
  id: string | undefined,
  fn: (c: Catalog) => T,
): T {
  return onCatalog(Catalog.openCopy(s.home.catalogFile), id, fn);
}

export function mustGet(catalog: Catalog, id: string): HostRecord {
  const h = catalog.hosts.get(id);
  if (!h) throw notFound(id);
  return h;
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
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
    throw badInput(`timeout: ${quote(timeoutText)} is not a duration like 500ms, 5s or 1m`);
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
  const { docker, dockerReason } = await import("../../lib/docker/client");
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
  for (const id of ids) mustExist(s.home, id);
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
  mustExist(s.home, opts.id);
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
