/**
 * Host catalog input checks (lib/hosts/catalog.ts stores what passes): zod schemas, then cross-field
 * rules, then issues with dot-paths (`devices.gpus[0].vramGb: must be >= 0`); plus the parsers
 * the CLI uses for `--ssh` and `--status`. HostError lives here so parsers and HostCatalog throw
 * the same class without lib/hosts/catalog.ts and this file requiring each other.
 */
import * as net from "node:net";
import { z } from "zod";
import { quote } from "../core/display";
import { dotPath, valueAt } from "../core/dot-path";
import {
  HOST_STATUSES,
  type DeviceCapabilities,
  type HostRecord,
  type HostStatus,
  type NewHost,
} from "./model";

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

// ---- schemas -----------------------------------------------------------------------------

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
    error: (iss) => `must be a hostname or an IP address, got ${quote(String(iss.input))}`,
  })
  .transform((s) => normalizeHost(s)!);
/** Heartbeat and created/updated times: whole ms since epoch. */
export const timestamp = z.number().int("must be a whole number of ms").min(0, "must be >= 0");
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

// ---- checks and parsers ------------------------------------------------------------------

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
  const message = `must be one of ${HOST_STATUSES.join(", ")}, got ${quote(text)}`;
  throw new HostError("invalid", `unknown host status: ${message}`, [{ path: "status", message }]);
}

/**
 * `user@host[:port]` or `host[:port]` (IPv6 in brackets: `root@[::1]:2222`) -> parts, port 22
 * when not given; throws HostError("invalid") with one issue at path `ssh`.
 */
export function parseSshSpec(spec: string): { user: string | null; host: string; port: number } {
  function fail(why: string): never {
    const message = `${quote(spec)}: ${why}`;
    throw new HostError("invalid", `invalid SSH spec ${message}`, [{ path: "ssh", message }]);
  }
  const m = /^(?:([^@]*)@)?(\[[^\]]*\]|[^:@[\]]*)(?::([^:]*))?$/.exec(spec);
  if (!m) fail("expected user@host[:port] or host[:port], IPv6 addresses in brackets ([::1]:22)");
  const [, user, hostText = "", portText] = m;
  if (user !== undefined && !SSH_USER_RE.test(user)) {
    fail(user === "" ? "the user is empty" : `${quote(user)} is not a valid user name`);
  }
  const host = normalizeHost(hostText);
  if (host === undefined) {
    fail(
      hostText === ""
        ? "the host is missing"
        : `${quote(hostText)} is not a hostname or IP address`,
    );
  }
  const portNum = portText === undefined ? 22 : /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
  if (portNum < 1 || portNum > 65535) fail(`port ${quote(portText ?? "")} is not 1..65535`);
  return { user: user ?? null, host, port: portNum };
}

/** A plain object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
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

// ---- issue wording -----------------------------------------------------------------------

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

function article(expected: string): string {
  return expected === "object" ? "an object" : expected === "array" ? "a list" : `a ${expected}`;
}

/** A value as an issue names it: `"text"`, `number 3`, `a list`, `null`. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return quote(v);
  if (typeof v === "number" || typeof v === "boolean") return `${typeof v} ${String(v)}`;
  return typeof v;
}
