/**
 * A3sfile.hcl (the a3s dev document's format) -> EnvSpec. HashiCorp's own HCL parser reads the
 * file (`@cdktf/hcl2json`, HCL compiled to WebAssembly); its shape is checked here with the
 * document's names (`service.gateway.health.type`), then mapped onto envctl.yaml's fields and
 * run through the same schema, normalization and rules, so an A3sfile env is an envctl env:
 *
 *   dev { proxy_port, log_level }             -> dev: { proxy_port, log_level }
 *   service "x" { cmd, dir, env, depends_on } -> services.x: a process service
 *   port = 8080                               -> ports: [{ port: 8080, fixed: true }]: a3s has
 *                                                no port blocks, the program listens there
 *   subdomain                                 -> subdomain (the *.localhost proxy's route)
 *   watch { paths, ignore, restart }          -> watch (debounce 500 ms unless set)
 *   health { type, path, interval, ... }      -> health: { http: path } or { tcp: port }
 *
 * a3s restarts crashed services with backoff, so an A3sfile service's restart policy is
 * `on-failure` unless it sets `restart`. Its health block may also set `start_period` (how
 * long a first build may take before failures count; 5 minutes unless set).
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { z } from "zod";
import { quote } from "../core/display";
import { dotPath } from "../core/dot-path";
import { duration } from "./fields";
import { parseSpecData, type ParseResult } from "./load";
import { LOG_LEVELS, type SpecIssue } from "./model";
import { a3sIssue } from "./a3s-name";
import { readTextFile } from "./read";
import {
  DNS_LABEL_RE,
  portNumber,
  RESTART_POLICIES,
  SERVICE_NAME_RE,
  watchSchema,
  zodIssues,
} from "./schema";

/** How long an A3sfile service's first start may take before failed probes count. */
const START_PERIOD = "5m";

const BLOCKS = ["dev", "service"];
const SERVICE_BLOCKS = ["watch", "health"];

const literal = z.union([z.string(), z.number(), z.boolean()], {
  error: "must be a string, number or bool",
});
const text = z.string().min(1, "must not be empty");

const healthBlock = z
  .strictObject({
    type: z.enum(["http", "tcp"]),
    path: z.string().startsWith("/", 'must be a path starting with "/"').optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    retries: z.number().int("must be a whole number").min(1, "must be at least 1").optional(),
    start_period: duration.optional(),
  })
  .superRefine((h, ctx) => {
    if (h.type === "tcp" && h.path !== undefined) {
      ctx.addIssue({ code: "custom", path: ["path"], message: 'applies to type = "http" only' });
    }
  });

const serviceBlock = z
  .strictObject({
    cmd: text,
    dir: text.optional(),
    port: portNumber.optional(),
    subdomain: z
      .string()
      .regex(DNS_LABEL_RE, 'must be a DNS label: lowercase letters, digits and "-"')
      .optional(),
    env: z.record(z.string(), literal).optional(),
    depends_on: z.array(z.string()).optional(),
    restart: z.enum(RESTART_POLICIES).optional(),
    max_restarts: z.number().int("must be a whole number").min(1, "must be at least 1").optional(),
    watch: watchSchema.optional(),
    health: healthBlock.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.health?.type === "tcp" && s.port === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["health", "type"],
        message: 'a "tcp" check connects to the service\'s port: set port',
      });
    }
  });

const a3sfileSchema = z.strictObject({
  dev: z
    .strictObject({
      proxy_port: portNumber.optional(),
      log_level: z.enum(LOG_LEVELS).optional(),
    })
    .optional(),
  service: z
    .record(
      z.string().regex(SERVICE_NAME_RE, 'invalid service name: use letters, digits, "_" and "-"'),
      serviceBlock,
    )
    .optional(),
});

type A3sDoc = z.output<typeof a3sfileSchema>;

/** Reads and checks an A3sfile; issues name the document's fields (`service.x.health.type`). */
export function loadA3sfile(file: string): ParseResult {
  const abs = path.resolve(file);
  const read = readTextFile(abs);
  if (!("text" in read)) {
    return { errors: [{ path: "", message: `cannot read ${abs}: ${read.reason}` }], warnings: [] };
  }
  const json = hclToJson(abs, read.text);
  if ("problem" in json) return { errors: [json.problem], warnings: [] };
  return parseA3sData(json.data, path.dirname(abs), declarationOrder(read.text));
}

/**
 * The service names in the order the file declares them. hcl2json sorts a block's labels, but
 * the declaration order is the start order where depends_on leaves a choice (as in a3s).
 */
export function declarationOrder(source: string): string[] {
  const names: string[] = [];
  for (const m of source.matchAll(/^[ \t]*service[ \t]+"([^"\n]+)"/gm)) {
    if (!names.includes(m[1]!)) names.push(m[1]!);
  }
  return names;
}

/** The HCL document as hcl2json's JSON, through a child node (the parser is asynchronous). */
function hclToJson(file: string, source: string): { data: unknown } | { problem: SpecIssue } {
  const name = path.basename(file);
  const script = `
const { parse } = require(${JSON.stringify(require.resolve("@cdktf/hcl2json"))});
let text = "";
process.stdin.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () =>
  parse(${JSON.stringify(name)}, text).then(
    (j) => process.stdout.write(JSON.stringify(j)),
    (e) => { process.stderr.write(String(e && e.message ? e.message : e)); process.exit(3); },
  ),
);`;
  try {
    const out = execFileSync(process.execPath, ["-e", script], {
      input: source,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
    return { data: JSON.parse(out) as unknown };
  } catch (err) {
    const e = err as { status?: number; stderr?: string };
    if (e.status === 3 && e.stderr) return { problem: syntaxIssue(name, e.stderr) };
    throw err;
  }
}

/**
 * `parse config: [A3sfile.hcl:2,9-3,1: Invalid expression; Expected the start of an
 * expression...]` -> the first problem, at its line and column.
 */
export function syntaxIssue(name: string, message: string): SpecIssue {
  const body = message.replace(/^parse config: \[/, "").replace(/\]\s*$/, "");
  const m = /^(.+?):(\d+),(\d+)(?:-[\d,]+)?: ([\s\S]*)$/.exec(body);
  if (!m) return { path: "", file: name, message: `HCL: ${body}` };
  return {
    path: "",
    file: name,
    line: Number(m[2]),
    column: Number(m[3]),
    message: `HCL: ${m[4]!.replace(/; /, ": ").trim()}`,
  };
}

/** The checks and the mapping, from hcl2json's shape; `dir` is the A3sfile's directory. */
export function parseA3sData(data: unknown, dir: string, order: string[] = []): ParseResult {
  const errors: SpecIssue[] = [];
  const doc = unwrapBlocks(data, errors);
  if (isMap(doc.service)) doc.service = inOrder(doc.service, order);
  if (errors.length > 0) return { errors, warnings: [] };
  errors.push(...interpolations(doc, []));
  if (errors.length > 0) return { errors, warnings: [] };
  const parsed = a3sfileSchema.safeParse(doc);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error.issues, [], doc).map((i) => blockWords(i, doc));
    return { errors: issues, warnings: [] };
  }
  if (Object.keys(parsed.data.service ?? {}).length === 0) {
    return {
      errors: [{ path: "service", message: 'the A3sfile needs at least one service "NAME" block' }],
      warnings: [],
    };
  }
  const res = parseSpecData(toEnvctl(parsed.data), { dir }, []);
  for (const i of [...res.errors, ...res.warnings]) Object.assign(i, a3sIssue(i));
  if (res.spec) res.spec.source = "a3s";
  return res;
}

/**
 * hcl2json writes every block as a list (`service.gateway[0].health[0]`): a block written once
 * becomes its body, one written twice is an error. Unknown top-level names are unknown blocks.
 */
function unwrapBlocks(data: unknown, errors: SpecIssue[]): Record<string, unknown> {
  if (!isMap(data)) return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (!BLOCKS.includes(key)) {
      errors.push({
        path: key,
        message: `unknown ${isBlock(value) ? "block" : "attribute"} ${quote(key)} (an A3sfile has "dev" and "service" blocks)`,
      });
      continue;
    }
    if (key === "dev") {
      out.dev = single(value, ["dev"], errors);
      continue;
    }
    if (!isMap(value)) {
      errors.push({ path: "service", message: 'must be blocks: service "NAME" { ... }' });
      continue;
    }
    const services: Record<string, unknown> = {};
    for (const [name, blocks] of Object.entries(value)) {
      const body = single(blocks, ["service", name], errors);
      if (!isMap(body)) {
        services[name] = body;
        continue;
      }
      const svc: Record<string, unknown> = { ...body };
      for (const inner of SERVICE_BLOCKS) {
        if (inner in svc) svc[inner] = single(svc[inner], ["service", name, inner], errors);
      }
      services[name] = svc;
    }
    out.service = services;
  }
  return out;
}

function inOrder(services: Record<string, unknown>, order: string[]): Record<string, unknown> {
  const rank = (n: string): number => (order.includes(n) ? order.indexOf(n) : order.length);
  const names = Object.keys(services).sort((a, b) => rank(a) - rank(b));
  return Object.fromEntries(names.map((n) => [n, services[n]]));
}

function single(value: unknown, at: string[], errors: SpecIssue[]): unknown {
  if (!Array.isArray(value)) return value; // `x = { ... }` (an attribute) reads the same
  if (value.length !== 1) {
    errors.push({
      path: dotPath(at),
      message: `block written ${value.length} times; write it once`,
    });
  }
  return value[0];
}

/** `${...}` and `%{...}` are HCL templates: a3s files hold literal values. */
function interpolations(v: unknown, at: PropertyKey[]): SpecIssue[] {
  if (typeof v === "string") {
    return /\$\{|%\{/.test(v)
      ? [
          {
            path: dotPath(at),
            message: `${quote(v)}: templates (\${...}) are not supported; write the value out`,
          },
        ]
      : [];
  }
  if (Array.isArray(v)) return v.flatMap((x, i) => interpolations(x, [...at, i]));
  if (isMap(v)) return Object.entries(v).flatMap(([k, x]) => interpolations(x, [...at, k]));
  return [];
}

/** zod's "unknown field" of a key written as a block says block. */
function blockWords(i: SpecIssue, doc: Record<string, unknown>): SpecIssue {
  const m = /^unknown field "([^"]+)"/.exec(i.message);
  if (!m) return i;
  const svc = /^service\.([^.]+)$/.exec(i.path);
  const body = svc ? (doc.service as Record<string, Record<string, unknown>>)[svc[1]!] : undefined;
  const kind = isBlock(body?.[m[1]!]) ? "block" : "attribute";
  return { ...i, message: i.message.replace("unknown field", `unknown ${kind}`) };
}

/** The A3sfile as the envctl.yaml that means the same. */
function toEnvctl(doc: A3sDoc): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(doc.service ?? {})) {
    const out: Record<string, unknown> = {
      type: "process",
      cmd: s.cmd,
      dir: s.dir ?? ".",
      restart: s.restart ?? "on-failure",
    };
    if (s.port !== undefined) out.ports = [{ port: s.port, fixed: true }];
    if (s.subdomain !== undefined) out.subdomain = s.subdomain;
    if (s.env) out.env = s.env;
    if (s.depends_on) out.depends_on = s.depends_on;
    if (s.max_restarts !== undefined) out.max_restarts = s.max_restarts;
    if (s.watch) {
      out.watch = {
        paths: s.watch.paths,
        ...(s.watch.ignore ? { ignore: s.watch.ignore } : {}),
        ...(s.watch.restart !== undefined ? { restart: s.watch.restart } : {}),
        ...(s.watch.debounce !== undefined ? { debounce: `${s.watch.debounce}ms` } : {}),
      };
    }
    const h = s.health;
    if (h) {
      out.health = {
        ...(h.type === "http" ? { http: h.path ?? "/" } : { tcp: s.port }),
        ...(h.interval !== undefined ? { interval: `${h.interval}ms` } : {}),
        ...(h.timeout !== undefined ? { timeout: `${h.timeout}ms` } : {}),
        ...(h.retries !== undefined ? { retries: h.retries } : {}),
        start_period: h.start_period !== undefined ? `${h.start_period}ms` : START_PERIOD,
      };
    }
    services[name] = out;
  }
  const dev = doc.dev;
  return {
    services,
    ...(dev ? { dev: { ...dev } } : { dev: {} }),
  };
}

/** hcl2json's shape of a block: a list of bodies, or labels each holding such a list. */
function isBlock(v: unknown): boolean {
  if (Array.isArray(v)) return v.every(isMap);
  return isMap(v) && Object.values(v).length > 0 && Object.values(v).every(isBlock);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
