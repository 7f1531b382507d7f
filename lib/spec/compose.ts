/**
 * docker-compose import: compose files (plus overrides, merged in order) -> services in
 * envctl.yaml form, which then go through the same schema and rules as envctl.yaml.
 *
 * Each file is converted on its own first (so every issue names the file and dot-path it came
 * from), then the per-file results are merged with compose's rules. Relative paths resolve
 * against the project directory, the first file's directory, as `docker compose -f a -f b` does.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { shellValue } from "../template";
import type { SpecIssue } from "./model";
import { describeValue, dotPath, SERVICE_NAME_RE } from "./schema";

export interface ComposeImport {
  /** Services in envctl.yaml form (the input shape of `services` in envctl.yaml), file order. */
  services: Record<string, Record<string, unknown>>;
  /** Problems that stop the import; paths read `FILE: services.db.ports[0]`. */
  errors: SpecIssue[];
  /** Keys envctl ignores on purpose (container_name, restart, networks, ...), each by name. */
  warnings: SpecIssue[];
}

const NOT_SUPPORTED = "not supported by envctl";

/** Compose keys envctl accepts and drops, with the reason the warning gives. */
const IGNORED_SERVICE_KEYS: Record<string, string> = {
  container_name: "envctl names containers per env",
  restart: "envctl starts and stops services with the env's state",
  networks: "each env has one network, where service names resolve",
  hostname: "services reach each other by service name",
  labels: "envctl labels its containers itself",
  logging: "envctl keeps each service's log with the env",
  expose: "every port is reachable on the env's network; only `ports` are published",
};
const IGNORED_TOP_KEYS: Record<string, string> = {
  version: "compose itself no longer reads it",
  name: "envctl names each env's project itself",
  networks: "each env has one network, where service names resolve",
};

type Path = PropertyKey[];
type Obj = Record<string, unknown>;

interface PortOut {
  container: number;
  offset: number;
  protocol: "tcp" | "udp";
}

interface VolumeOut {
  /** Undefined for an anonymous volume, named after merging. */
  source?: string;
  target: string;
  read_only: boolean;
  named: boolean;
  at: string;
}

interface HealthLayer {
  /** The shell command; `null` for `["NONE"]`. */
  test?: string | null;
  disable?: boolean;
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  at: string;
}

/** One file's contribution to a service, before merging. */
interface Layer {
  image?: { value: string; at: string };
  build?: { context?: string; dockerfile?: string; args: Record<string, string> };
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  envFile: Record<string, string>;
  ports: PortOut[];
  volumes: VolumeOut[];
  ulimits: Obj;
  health?: HealthLayer;
  depends?: { list: boolean; deps: Record<string, { condition?: string }> };
}

/** One compose file being read: where it is and where its issues go. */
interface Ctx {
  base: string;
  /** Project directory: relative paths in every file resolve against it. */
  dir: string;
  out: ComposeImport;
}

const where = (ctx: Ctx, at: Path): string =>
  at.length ? `${ctx.base}: ${dotPath(at)}` : ctx.base;
const fail = (ctx: Ctx, at: Path, message: string): void => {
  ctx.out.errors.push({ path: where(ctx, at), message });
};
const warn = (ctx: Ctx, at: Path, message: string): void => {
  ctx.out.warnings.push({ path: where(ctx, at), message });
};
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Reads and merges compose files (absolute paths), later files overriding earlier ones. */
export function importCompose(files: string[]): ComposeImport {
  const out: ComposeImport = { services: {}, errors: [], warnings: [] };
  if (files.length === 0) {
    out.errors.push({ path: "", message: "no compose files given" });
    return out;
  }
  const dir = path.dirname(files[0]!);
  const merged = new Map<string, Layer>();
  const declared = new Set<string>();
  for (const file of files) {
    const ctx: Ctx = { base: path.basename(file), dir, out };
    const doc = readCompose(ctx, file);
    if (!doc) continue;
    for (const [name, layer] of fileServices(ctx, doc, declared)) {
      const prev = merged.get(name);
      merged.set(name, prev ? mergeLayers(prev, layer) : layer);
    }
  }
  if (merged.size === 0 && out.errors.length === 0) {
    out.errors.push({ path: path.basename(files[0]!), message: "no services defined" });
  }
  for (const [name, layer] of merged) {
    out.services[name] = finish(name, layer, { dir, declared, out });
  }
  return out;
}

/** Whether a spec path names a compose file rather than an envctl.yaml. */
export function isComposeFile(file: string): boolean {
  return /(^|[/.-])(docker-)?compose[^/]*\.ya?ml$/.test(file);
}

function readError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  return (err as Error).message;
}

function readCompose(ctx: Ctx, file: string): Obj | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    fail(ctx, [], `cannot read ${file}: ${readError(err)}`);
    return undefined;
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, merge: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = yamlError.linePos?.[0];
    const reason = yamlError.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    ctx.out.errors.push({
      path: pos ? `${ctx.base}:${pos.line}:${pos.col}` : ctx.base,
      message: `invalid YAML: ${reason}`,
    });
    return undefined;
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    fail(ctx, [], 'the file is empty; it needs a "services" mapping');
    return undefined;
  }
  if (!isObj(data)) {
    fail(ctx, [], `a compose file must be a mapping with "services", got ${describeValue(data)}`);
    return undefined;
  }
  // Extension fields are only anchors for the rest of the file: not interpolated, not read.
  const own = Object.entries(data).filter(([k]) => !k.startsWith("x-"));
  return Object.fromEntries(own.map(([k, v]) => [k, interpolateTree(ctx, v, [k])]));
}

function fileServices(ctx: Ctx, doc: Obj, declared: Set<string>): [string, Layer][] {
  for (const [key, value] of Object.entries(doc)) {
    if (key === "services") continue;
    if (key === "volumes") declareVolumes(ctx, value, declared);
    else if (IGNORED_TOP_KEYS[key])
      warn(ctx, [key], `"${key}" is ignored: ${IGNORED_TOP_KEYS[key]}`);
    else fail(ctx, [key], NOT_SUPPORTED);
  }
  const services = doc.services;
  if (services === undefined || services === null) return [];
  if (!isObj(services)) {
    fail(ctx, ["services"], `must be a mapping, got ${describeValue(services)}`);
    return [];
  }
  const layers: [string, Layer][] = [];
  for (const [name, raw] of Object.entries(services)) {
    if (name.startsWith("x-")) continue;
    const at = ["services", name];
    if (!SERVICE_NAME_RE.test(name)) {
      const fixed = name.toLowerCase().replace(/[^a-z0-9-]/g, "-");
      fail(
        ctx,
        at,
        `envctl service names are a lowercase letter, then lowercase letters, digits or "-" (at most 31 characters); rename it${SERVICE_NAME_RE.test(fixed) ? ` (e.g. "${fixed}")` : ""}`,
      );
    } else if (!isObj(raw)) {
      fail(ctx, at, `must be a mapping, got ${describeValue(raw)}`);
    } else {
      layers.push([name, serviceLayer(ctx, at, raw)]);
    }
  }
  return layers;
}

function declareVolumes(ctx: Ctx, value: unknown, declared: Set<string>): void {
  if (value === null) return;
  if (!isObj(value))
    return fail(ctx, ["volumes"], `must be a mapping, got ${describeValue(value)}`);
  for (const [name, decl] of Object.entries(value)) {
    declared.add(name);
    if (decl === null) continue;
    if (!isObj(decl)) {
      fail(ctx, ["volumes", name], `must be a mapping, got ${describeValue(decl)}`);
      continue;
    }
    for (const [k, v] of Object.entries(decl)) {
      const at = ["volumes", name, k];
      if (k.startsWith("x-") || (k === "driver" && v === "local")) continue;
      if (k === "external") {
        if (v)
          fail(ctx, at, "external volumes are not supported: envctl creates each env's volumes");
      } else if (k === "name" || k === "labels") {
        warn(ctx, at, `"${k}" is ignored: envctl names and labels each env's volumes itself`);
      } else {
        fail(ctx, at, NOT_SUPPORTED);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// one service of one file

type Handler = (ctx: Ctx, at: Path, value: unknown, layer: Layer) => void;

const HANDLERS: Record<string, Handler> = {
  image: (ctx, at, v, layer) => {
    if (typeof v === "string" && v) layer.image = { value: v, at: where(ctx, at) };
    else fail(ctx, at, `must be an image name, got ${describeValue(v)}`);
  },
  build: (ctx, at, v, layer) => {
    const b = build(ctx, at, v);
    if (b) layer.build = b;
  },
  command: (ctx, at, v, layer) => {
    const c = commandWords(ctx, at, v);
    if (c) layer.command = c;
  },
  entrypoint: (ctx, at, v, layer) => {
    const c = commandWords(ctx, at, v);
    if (c) layer.entrypoint = c;
  },
  environment: (ctx, at, v, layer) => {
    layer.environment = envList(ctx, at, v);
  },
  env_file: (ctx, at, v, layer) => {
    layer.envFile = envFiles(ctx, at, v);
  },
  ports: (ctx, at, v, layer) => {
    if (!Array.isArray(v)) return fail(ctx, at, `must be a list, got ${describeValue(v)}`);
    layer.ports = uniquePorts(v.flatMap((p, i) => portEntry(ctx, [...at, i], p)));
  },
  volumes: (ctx, at, v, layer) => {
    if (!Array.isArray(v)) return fail(ctx, at, `must be a list, got ${describeValue(v)}`);
    const vols = v.map((x, i) => volumeEntry(ctx, [...at, i], x));
    layer.volumes = byTarget(
      [],
      vols.filter((x) => x !== undefined),
    );
  },
  ulimits: (ctx, at, v, layer) => {
    if (isObj(v)) layer.ulimits = v;
    else fail(ctx, at, `must be a mapping, got ${describeValue(v)}`);
  },
  healthcheck: (ctx, at, v, layer) => {
    const h = healthcheck(ctx, at, v);
    if (h) layer.health = h;
  },
  depends_on: (ctx, at, v, layer) => {
    const d = dependsOn(ctx, at, v);
    if (d) layer.depends = d;
  },
};

function serviceLayer(ctx: Ctx, at: Path, raw: Obj): Layer {
  const layer: Layer = {
    environment: {},
    envFile: {},
    ports: [],
    volumes: [],
    ulimits: {},
  };
  for (const [key, value] of Object.entries(raw)) {
    const handler = HANDLERS[key];
    if (handler) handler(ctx, [...at, key], value, layer);
    else if (key.startsWith("x-")) continue;
    else if (IGNORED_SERVICE_KEYS[key]) {
      warn(ctx, [...at, key], `"${key}" is ignored: ${IGNORED_SERVICE_KEYS[key]}`);
    } else fail(ctx, [...at, key], NOT_SUPPORTED);
  }
  return layer;
}

function build(ctx: Ctx, at: Path, v: unknown): Layer["build"] {
  const context = (c: unknown, cat: Path): string | undefined => {
    if (typeof c !== "string" || !c) return void fail(ctx, cat, "must be a directory");
    if (/^[a-z][a-z0-9+.-]*:\/\/|^git@/i.test(c)) {
      return void fail(
        ctx,
        cat,
        "remote build contexts are not supported; clone it and use a path",
      );
    }
    return hostPath(ctx.dir, c);
  };
  if (typeof v === "string") {
    const c = context(v, at);
    return c === undefined ? undefined : { context: c, args: {} };
  }
  if (!isObj(v))
    return void fail(ctx, at, `must be a directory or a mapping, got ${describeValue(v)}`);
  const out: NonNullable<Layer["build"]> = { args: {} };
  for (const [k, x] of Object.entries(v)) {
    const kat = [...at, k];
    if (k === "context") out.context = context(x, kat);
    else if (k === "dockerfile" && typeof x === "string" && x) out.dockerfile = x;
    else if (k === "dockerfile") fail(ctx, kat, "must be a path relative to the context");
    else if (k === "args") out.args = envList(ctx, kat, x);
    else if (!k.startsWith("x-")) fail(ctx, kat, NOT_SUPPORTED);
  }
  return out;
}

/**
 * compose splits a string command into words like a shell would but runs no shell; envctl's
 * string form means `sh -c`, which would hand an image's ENTRYPOINT the words `sh -c ...`.
 */
function commandWords(ctx: Ctx, at: Path, v: unknown): string[] | undefined {
  let words: string[] | undefined;
  if (typeof v === "string") {
    words = shellSplit(v);
    if (!words) return void fail(ctx, at, `unterminated quote in ${JSON.stringify(v)}`);
  } else if (Array.isArray(v) && v.every((w) => typeof w === "string" || typeof w === "number")) {
    words = v.map(String);
  } else {
    return void fail(ctx, at, `must be a string or a list of strings, got ${describeValue(v)}`);
  }
  if (words.length === 0) {
    return void fail(ctx, at, "an empty command (clearing the image's) is not supported");
  }
  return words;
}

/** Shell-like word splitting: quotes and backslashes, no expansion. Undefined if a quote is open. */
export function shellSplit(s: string): string[] | undefined {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && '"\\$`'.includes(s[i + 1] ?? "x")) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      [cur, inWord] = ["", false];
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) return undefined;
  if (inWord) words.push(cur);
  return words;
}

/** `environment` / `build.args`: a mapping or a list of `KEY=VALUE`; a bare KEY reads the shell's. */
function envList(ctx: Ctx, at: Path, v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (key: string, value: unknown, kat: Path): void => {
    if (!key) return fail(ctx, kat, "names must not be empty");
    if (value === null || value === undefined) {
      const fromEnv = process.env[key];
      if (fromEnv !== undefined) out[key] = fromEnv;
      else warn(ctx, kat, `"${key}" has no value and is not set in the environment; dropped`);
    } else if (
      typeof value === "string" ||
      typeof value === "number" ||
      typeof value === "boolean"
    ) {
      out[key] = String(value);
    } else fail(ctx, kat, `must be a string, number or boolean, got ${describeValue(value)}`);
  };
  if (isObj(v)) for (const [k, x] of Object.entries(v)) put(k, x, [...at, k]);
  else if (Array.isArray(v)) {
    v.forEach((item, i) => {
      if (typeof item !== "string")
        return fail(ctx, [...at, i], `must be KEY=VALUE, got ${describeValue(item)}`);
      const eq = item.indexOf("=");
      put(eq < 0 ? item : item.slice(0, eq), eq < 0 ? null : item.slice(eq + 1), [...at, i]);
    });
  } else if (v !== null) {
    fail(ctx, at, `must be a mapping or a list of KEY=VALUE, got ${describeValue(v)}`);
  }
  return out;
}

function envFiles(ctx: Ctx, at: Path, v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const list: unknown[] | undefined =
    typeof v === "string" || isObj(v) ? [v] : Array.isArray(v) ? v : undefined;
  if (!list) {
    fail(ctx, at, `must be a file or a list of files, got ${describeValue(v)}`);
    return out;
  }
  list.forEach((entry, i) => {
    const eat = Array.isArray(v) ? [...at, i] : at;
    const spec = typeof entry === "string" ? { path: entry } : entry;
    if (!isObj(spec) || typeof spec.path !== "string") {
      return fail(ctx, eat, 'must be a file or a mapping with "path" and "required"');
    }
    const file = hostPath(ctx.dir, spec.path);
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      if (spec.required === false) return;
      return fail(ctx, eat, `cannot read ${file}: ${readError(err)}`);
    }
    Object.assign(out, parseEnvFile(ctx, text, path.basename(file), out));
  });
  return out;
}

/** `KEY=VALUE` lines: `#` comments, `export ` prefixes, single or double quotes. */
function parseEnvFile(
  ctx: Ctx,
  text: string,
  name: string,
  earlier: Record<string, string>,
): Record<string, string> {
  const vars: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, n) => {
    const at = `${name}:${n + 1}`;
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*(.*))?$/.exec(trimmed);
    if (!m) return void ctx.out.errors.push({ path: at, message: "must be KEY=VALUE" });
    const [, key = "", raw] = m;
    const env = { ...process.env, ...earlier, ...vars };
    if (raw === undefined) {
      if (env[key] !== undefined) vars[key] = env[key];
      else
        ctx.out.warnings.push({
          path: at,
          message: `"${key}" has no value and is not set in the environment; dropped`,
        });
      return;
    }
    const q = raw[0];
    if (q === "'" || q === '"') {
      const end = q === "'" ? raw.indexOf("'", 1) : closingDoubleQuote(raw);
      if (end < 0) return void ctx.out.errors.push({ path: at, message: "unterminated quote" });
      const body = raw.slice(1, end);
      vars[key] = q === "'" ? body : (interpolate(ctx, unescapeDouble(body), [], env, at) ?? body);
    } else {
      vars[key] = interpolate(ctx, raw.replace(/\s+#.*$/, ""), [], env, at) ?? raw;
    }
  });
  return vars;
}

function closingDoubleQuote(s: string): number {
  for (let i = 1; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === '"') return i;
  }
  return -1;
}

function unescapeDouble(s: string): string {
  const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
  return s.replace(/\\(.)/g, (whole, c: string) => map[c] ?? whole);
}

// ---------------------------------------------------------------------------------------------
// ports

/** `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`, ports may be ranges `3000-3001`. */
const SHORT_PORT_RE = /^(?:(?:(\[[^\]]*\]|[^:[\]]*):)?(\d*(?:-\d+)?):)?(\d+(?:-\d+)?)(?:\/(\w+))?$/;

function portEntry(ctx: Ctx, at: Path, p: unknown): PortOut[] {
  if (typeof p === "number") return portRange(ctx, at, String(p), undefined, "tcp");
  if (typeof p === "string") {
    const m = SHORT_PORT_RE.exec(p.trim());
    if (!m) {
      fail(
        ctx,
        at,
        `must be "[HOST:]CONTAINER[/PROTOCOL]" like "5432" or "10432:5432", got "${p}"`,
      );
      return [];
    }
    const [, ip, published, container = "", protocol = "tcp"] = m;
    hostIp(ctx, at, ip);
    return portRange(ctx, at, container, published || undefined, protocol);
  }
  if (!isObj(p)) {
    fail(ctx, at, `must be a port string, number or mapping, got ${describeValue(p)}`);
    return [];
  }
  for (const k of Object.keys(p)) {
    if (!["target", "published", "protocol", "host_ip", "mode", "name", "app_protocol"].includes(k))
      fail(ctx, [...at, k], NOT_SUPPORTED);
  }
  if (typeof p.host_ip === "string") hostIp(ctx, [...at, "host_ip"], p.host_ip);
  const { target, published, protocol = "tcp" } = p;
  if (typeof target !== "number" && typeof target !== "string") {
    fail(ctx, [...at, "target"], "required: the container port");
    return [];
  }
  if (published !== undefined && typeof published !== "number" && typeof published !== "string") {
    fail(ctx, [...at, "published"], `must be a port, got ${describeValue(published)}`);
    return [];
  }
  return portRange(
    ctx,
    at,
    String(target),
    published === undefined ? undefined : String(published),
    String(protocol),
  );
}

function hostIp(ctx: Ctx, at: Path, ip: string | undefined): void {
  if (ip && ip !== "0.0.0.0" && ip !== "[::]") {
    warn(ctx, at, `host address ${ip} is ignored: envctl publishes the env's ports itself`);
  }
}

/** Container port(s) -> envctl ports; the offset is the published port's place in a block. */
function portRange(
  ctx: Ctx,
  at: Path,
  container: string,
  published: string | undefined,
  protocol: string,
): PortOut[] {
  if (protocol !== "tcp" && protocol !== "udp") {
    fail(ctx, at, `protocol "${protocol}" is not supported (tcp or udp)`);
    return [];
  }
  const targets = range(container);
  const hosts = published === undefined ? targets : range(published);
  if (!targets || !hosts) {
    fail(ctx, at, `ports must be 1..65535, got ${published ? `${published}:` : ""}${container}`);
    return [];
  }
  if (hosts.length !== targets.length && !(targets.length === 1 && hosts.length > 1)) {
    fail(
      ctx,
      at,
      `the published range has ${hosts.length} ports, the container range ${targets.length}`,
    );
    return [];
  }
  return targets.map((c, i) => ({ container: c, offset: hosts[i]! % 1000, protocol }));
}

function range(text: string): number[] | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || hi < lo) return undefined;
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

function uniquePorts(ports: PortOut[]): PortOut[] {
  const seen = new Set<string>();
  return ports.filter((p) => {
    const k = `${p.container}/${p.offset}/${p.protocol}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

// ---------------------------------------------------------------------------------------------
// volumes

const VOLUME_MODES = ["ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy"];

function volumeEntry(ctx: Ctx, at: Path, v: unknown): VolumeOut | undefined {
  const loc = where(ctx, at);
  if (typeof v === "string") {
    const parts = v.split(":");
    if (parts.length > 3 || parts.some((x) => !x)) {
      return void fail(ctx, at, `must be "SOURCE:TARGET[:MODE]" or a container path, got "${v}"`);
    }
    const [first = "", second, mode] = parts;
    const modes = mode?.split(",") ?? [];
    const bad = modes.find((x) => !VOLUME_MODES.includes(x));
    if (bad) return void fail(ctx, at, `unknown volume mode "${bad}" in "${v}"`);
    const target = second ?? first;
    if (!target.startsWith("/"))
      return void fail(ctx, at, `target "${target}" must be an absolute path`);
    const read_only = modes.includes("ro");
    if (second === undefined) return { target, read_only, named: false, at: loc };
    const bind = /^[./~]/.test(first);
    return {
      source: bind ? hostPath(ctx.dir, first) : first,
      target,
      read_only,
      named: !bind,
      at: loc,
    };
  }
  if (!isObj(v))
    return void fail(ctx, at, `must be a string or a mapping, got ${describeValue(v)}`);
  for (const [k, x] of Object.entries(v)) {
    if (k === "bind" || k === "volume")
      warn(ctx, [...at, k], `"${k}" options are ignored by envctl`);
    else if (!["type", "source", "target", "read_only", "consistency"].includes(k))
      fail(ctx, [...at, k], NOT_SUPPORTED);
    else if (k !== "read_only" && typeof x !== "string")
      fail(ctx, [...at, k], `must be a string, got ${describeValue(x)}`);
  }
  const { type, source, target, read_only = false } = v as Record<string, string | undefined>;
  if (type !== "volume" && type !== "bind") {
    return void fail(
      ctx,
      [...at, "type"],
      `"${type}" mounts are ${NOT_SUPPORTED} (volume or bind)`,
    );
  }
  if (typeof target !== "string" || !target.startsWith("/"))
    return void fail(ctx, [...at, "target"], "must be an absolute path in the container");
  if (typeof read_only !== "boolean")
    return void fail(ctx, [...at, "read_only"], "must be true or false");
  if (type === "bind" && !source)
    return void fail(ctx, [...at, "source"], "required for a bind mount");
  if (!source) return { target, read_only, named: false, at: loc };
  if (type === "bind")
    return { source: hostPath(ctx.dir, source), target, read_only, named: false, at: loc };
  return { source, target, read_only, named: true, at: loc };
}

/** Absolute host path: `~` is the home directory, relative paths start at the project dir. */
function hostPath(dir: string, p: string): string {
  if (p === "~" || p.startsWith("~/")) return path.join(os.homedir(), p.slice(1));
  return path.isAbsolute(p) ? p : path.resolve(dir, p);
}

/** Later mounts replace earlier ones on the same target, in place. */
function byTarget(a: VolumeOut[], b: VolumeOut[]): VolumeOut[] {
  const out = [...a];
  for (const v of b) {
    const i = out.findIndex((x) => x.target === v.target);
    if (i >= 0) out[i] = v;
    else out.push(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// healthcheck and depends_on

function healthcheck(ctx: Ctx, at: Path, v: unknown): HealthLayer | undefined {
  if (!isObj(v)) return void fail(ctx, at, `must be a mapping, got ${describeValue(v)}`);
  const h: HealthLayer = { at: where(ctx, at) };
  for (const [k, x] of Object.entries(v)) {
    const kat = [...at, k];
    if (k === "test") {
      const t = healthTest(ctx, kat, x);
      if (t !== undefined) h.test = t;
    } else if (k === "disable") {
      if (typeof x === "boolean") h.disable = x;
      else fail(ctx, kat, "must be true or false");
    } else if (k === "interval" || k === "timeout" || k === "start_period") {
      const d = duration(x);
      if (d === undefined)
        fail(ctx, kat, `must be a duration like "5s" or "1m30s", got ${describeValue(x)}`);
      else h[k] = d;
    } else if (k === "retries") {
      if (typeof x === "number" && Number.isInteger(x) && x >= 1) h.retries = x;
      else fail(ctx, kat, `must be a whole number of at least 1, got ${describeValue(x)}`);
    } else if (k === "start_interval") {
      warn(ctx, kat, '"start_interval" is ignored: envctl probes at "interval" from the start');
    } else if (!k.startsWith("x-")) fail(ctx, kat, NOT_SUPPORTED);
  }
  return h;
}

/** `["CMD", ...argv]`, `["CMD-SHELL", cmd]`, a string (shell) or `["NONE"]` (null). */
function healthTest(ctx: Ctx, at: Path, v: unknown): string | null | undefined {
  if (typeof v === "string" && v.trim()) return v;
  const words = Array.isArray(v) && v.every((w) => typeof w === "string") ? v : undefined;
  const [kind, ...rest] = words ?? [];
  if (kind === "NONE") return null;
  if ((kind === "CMD" || kind === "CMD-SHELL") && rest.length > 0) {
    return kind === "CMD" ? rest.map(shellValue).join(" ") : rest.join(" ");
  }
  return void fail(
    ctx,
    at,
    'must be a command, or a list starting with "CMD", "CMD-SHELL" or "NONE"',
  );
}

const GO_DURATION_RE = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
/** envctl's duration form (schema.ts DURATION_RE); anything else is rewritten in milliseconds. */
const ENVCTL_DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const NS_PER: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 6e10,
  h: 3.6e12,
};

/** A compose (Go) duration as envctl reads it: `"1m30s"` stays, `"1500us"` becomes `"1.5ms"`. */
function duration(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  if (v === "0") return "0s";
  if (ENVCTL_DURATION_RE.test(v)) return v;
  if (!GO_DURATION_RE.test(v)) return undefined;
  let ns = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    ns += Number(m[1]) * (NS_PER[m[2]!] ?? 0);
  }
  return `${Number((ns / 1e6).toFixed(6))}ms`;
}

function dependsOn(ctx: Ctx, at: Path, v: unknown): Layer["depends"] {
  if (Array.isArray(v)) {
    const deps: Record<string, { condition?: string }> = {};
    v.forEach((d, i) => {
      if (typeof d === "string" && d) deps[d] = {};
      else fail(ctx, [...at, i], `must be a service name, got ${describeValue(d)}`);
    });
    return { list: true, deps };
  }
  if (!isObj(v)) return void fail(ctx, at, `must be a list or a mapping, got ${describeValue(v)}`);
  const deps: Record<string, { condition?: string }> = {};
  for (const [name, d] of Object.entries(v)) {
    const dat = [...at, name];
    if (d !== null && !isObj(d)) {
      fail(ctx, dat, `must be a mapping with "condition", got ${describeValue(d)}`);
      continue;
    }
    deps[name] = {};
    for (const [k, x] of Object.entries(d ?? {})) {
      if (k === "condition" && (x === "service_started" || x === "service_healthy")) {
        deps[name] = { condition: x };
      } else if (k === "condition" && x === "service_completed_successfully") {
        fail(
          ctx,
          [...dat, k],
          `"${x}" is ${NOT_SUPPORTED}: services run until stopped; use init steps for one-off jobs`,
        );
      } else if (k === "condition") {
        fail(ctx, [...dat, k], 'must be "service_started" or "service_healthy"');
      } else if (k === "restart" || (k === "required" && x === false)) {
        warn(
          ctx,
          [...dat, k],
          `"${k}" is ignored: envctl always waits for dependencies and never restarts dependents`,
        );
      } else if (k !== "required") fail(ctx, [...dat, k], NOT_SUPPORTED);
    }
  }
  return { list: false, deps };
}

// ---------------------------------------------------------------------------------------------
// merging files, and the envctl.yaml form

function mergeLayers(a: Layer, b: Layer): Layer {
  const ulimits: Obj = { ...a.ulimits };
  for (const [k, v] of Object.entries(b.ulimits)) {
    const prev = ulimits[k];
    ulimits[k] = isObj(prev) && isObj(v) ? { ...prev, ...v } : v;
  }
  const out: Layer = {
    environment: { ...a.environment, ...b.environment },
    envFile: { ...a.envFile, ...b.envFile },
    ports: uniquePorts([...a.ports, ...b.ports]),
    volumes: byTarget(a.volumes, b.volumes),
    ulimits,
  };
  const image = b.image ?? a.image;
  if (image) out.image = image;
  if (a.build || b.build) {
    out.build = { ...a.build, ...b.build, args: { ...a.build?.args, ...b.build?.args } };
    out.build.context = b.build?.context ?? a.build?.context;
    out.build.dockerfile = b.build?.dockerfile ?? a.build?.dockerfile;
  }
  const command = b.command ?? a.command;
  if (command) out.command = command;
  const entrypoint = b.entrypoint ?? a.entrypoint;
  if (entrypoint) out.entrypoint = entrypoint;
  if (a.health || b.health) out.health = { ...a.health, ...b.health } as HealthLayer;
  if (a.depends || b.depends) {
    out.depends = {
      list: (a.depends?.list ?? true) && (b.depends?.list ?? true),
      deps: { ...a.depends?.deps, ...b.depends?.deps },
    };
  }
  return out;
}

/** A merged service in envctl.yaml form. */
function finish(
  name: string,
  l: Layer,
  { dir, declared, out }: { dir: string; declared: Set<string>; out: ComposeImport },
): Obj {
  const s: Obj = {};
  if (l.build) {
    if (l.image) {
      out.warnings.push({
        path: l.image.at,
        message: '"image" is ignored next to "build": envctl tags the images it builds',
      });
    }
    s.build = {
      context: l.build.context ?? dir,
      ...(l.build.dockerfile ? { dockerfile: l.build.dockerfile } : {}),
      ...(Object.keys(l.build.args).length ? { args: l.build.args } : {}),
    };
  } else if (l.image) s.image = l.image.value;
  if (l.command) s.command = l.command;
  if (l.entrypoint) s.entrypoint = l.entrypoint;
  const env = { ...l.envFile, ...l.environment };
  if (Object.keys(env).length) s.env = env;
  if (l.ports.length) s.ports = l.ports;
  let anon = 0;
  const volumes = l.volumes.map((v) => {
    if (v.named && !declared.has(v.source!)) {
      out.errors.push({
        path: v.at,
        message: `volume "${v.source}" is not declared in the top-level "volumes"`,
      });
    }
    if (v.source !== undefined)
      return { source: v.source, target: v.target, read_only: v.read_only };
    const source = `${name}-anon-${++anon}`;
    out.warnings.push({
      path: v.at,
      message: `anonymous volume at ${v.target} becomes the named volume "${source}", kept with the env`,
    });
    return { source, target: v.target, read_only: v.read_only };
  });
  if (volumes.length) s.volumes = volumes;
  if (Object.keys(l.ulimits).length) s.ulimits = l.ulimits;
  const health = l.health && healthOut(l.health, out);
  if (health) s.health = health;
  if (l.depends) s.depends_on = l.depends.list ? Object.keys(l.depends.deps) : l.depends.deps;
  return s;
}

function healthOut(h: HealthLayer, out: ComposeImport): Obj | undefined {
  if (h.disable || h.test === null) return undefined;
  if (h.test === undefined) {
    out.warnings.push({
      path: h.at,
      message:
        'has no "test" and envctl cannot see the image\'s HEALTHCHECK; set health in envctl.yaml',
    });
    return undefined;
  }
  const timing = (["interval", "timeout", "retries", "start_period"] as const).filter(
    (k) => h[k] !== undefined,
  );
  return { command: h.test, ...Object.fromEntries(timing.map((k) => [k, h[k]])) };
}

// ---------------------------------------------------------------------------------------------
// variable interpolation: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err},
// ${VAR?err}, ${VAR:+alt}, ${VAR+alt}, and $$ for a literal $

function interpolateTree(ctx: Ctx, v: unknown, at: Path): unknown {
  if (typeof v === "string") return interpolate(ctx, v, at, process.env) ?? v;
  if (Array.isArray(v)) return v.map((x, i) => interpolateTree(ctx, x, [...at, i]));
  if (isObj(v)) {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, interpolateTree(ctx, x, [...at, k])]),
    );
  }
  return v;
}

/** The interpolated text, or undefined after reporting an error. */
function interpolate(
  ctx: Ctx,
  text: string,
  at: Path,
  env: Record<string, string | undefined>,
  loc = where(ctx, at),
): string | undefined {
  try {
    return expandText(text, env, (name) =>
      ctx.out.warnings.push({ path: loc, message: `variable ${name} is not set; using ""` }),
    );
  } catch (err) {
    ctx.out.errors.push({ path: loc, message: (err as Error).message });
    return undefined;
  }
}

function expandText(
  text: string,
  env: Record<string, string | undefined>,
  unset: (name: string) => void,
): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c !== "$") out += c;
    else if (next === "$") [out, i] = [out + "$", i + 1];
    else if (next === "{") {
      let depth = 1;
      let end = i + 2;
      for (; end < text.length && depth > 0; end++) {
        if (text[end] === "{") depth++;
        else if (text[end] === "}") depth--;
      }
      if (depth > 0) throw new Error(`unclosed "\${" in ${JSON.stringify(text)}`);
      out += expandRef(text.slice(i + 2, end - 1), env, unset);
      i = end - 1;
    } else {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0];
      if (!name) out += c;
      else {
        if (env[name] === undefined) unset(name);
        out += env[name] ?? "";
        i += name.length;
      }
    }
  }
  return out;
}

function expandRef(
  body: string,
  env: Record<string, string | undefined>,
  unset: (name: string) => void,
): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!m) throw new Error(`invalid variable reference "\${${body}}"`);
  const [, name = "", op, arg = ""] = m;
  const value = env[name];
  const set = value !== undefined;
  const given = op?.startsWith(":") ? set && value !== "" : set;
  const nested = (): string => expandText(arg, env, unset);
  switch (op) {
    case undefined:
      if (!set) unset(name);
      return value ?? "";
    case ":-":
    case "-":
      return given ? value! : nested();
    case ":+":
    case "+":
      return given ? nested() : "";
    default:
      if (!given) throw new Error(`variable ${name} is required${arg ? `: ${nested()}` : ""}`);
      return value!;
  }
}
