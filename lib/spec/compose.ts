/**
 * docker-compose import: compose files (plus overrides, merged in order) -> services in
 * envctl.yaml form, which then go through the same schema and rules as envctl.yaml.
 *
 * Each file is converted on its own first (so every issue names the file and dot-path it came
 * from), then the per-file results are merged with compose's rules. Relative paths resolve
 * against the project directory, the first file's directory, as `docker compose -f a -f b` does.
 *
 * This file reads each file and dispatches a service's keys; the parts are in compose/:
 * interpolation, environment and env_file, field conversions, and merging.
 */
import * as path from "node:path";
import { shellWords } from "../core/shell";
import { describeValue, SERVICE_NAME_RE } from "./schema";
import {
  type ComposeImport,
  type Ctx,
  fail,
  hostPath,
  isObj,
  type Layer,
  NOT_SUPPORTED,
  type Obj,
  type Path,
  warn,
  where,
} from "./compose/context";
import { envFiles, envList, projectVars } from "./compose/envfile";
import {
  byTarget,
  dependsOn,
  healthcheck,
  portEntry,
  uniquePorts,
  volumeEntry,
} from "./compose/fields";
import { interpolateTree } from "./compose/interpolate";
import { finish, mergeLayers } from "./compose/merge";
import { parseYaml, readTextFile } from "./read";

export type { ComposeImport } from "./compose/context";

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

/** Reads and merges compose files (absolute paths), later files overriding earlier ones. */
export function importCompose(files: string[]): ComposeImport {
  const out: ComposeImport = { services: {}, errors: [], warnings: [] };
  if (files.length === 0) {
    out.errors.push({ path: "", message: "no compose files given" });
    return out;
  }
  const dir = path.dirname(files[0]!);
  const vars = projectVars(dir, out);
  const merged = new Map<string, Layer>();
  const declared = new Set<string>();
  for (const file of files) {
    const ctx: Ctx = { base: path.basename(file), dir, out, vars };
    const doc = readCompose(ctx, file);
    if (!doc) continue;
    for (const [name, layer] of fileServices(ctx, doc, declared)) {
      const prev = merged.get(name);
      merged.set(name, prev ? mergeLayers(prev, layer) : layer);
    }
  }
  if (merged.size === 0 && out.errors.length === 0) {
    out.errors.push({ file: path.basename(files[0]!), path: "", message: "no services defined" });
  }
  for (const [name, layer] of merged) {
    out.services[name] = finish(name, layer, { dir, declared, out });
  }
  return out;
}

function readCompose(ctx: Ctx, file: string): Obj | undefined {
  const read = readTextFile(file);
  if (!("text" in read)) {
    fail(ctx, [], `cannot read ${file}: ${read.reason}`);
    return undefined;
  }
  const parsed = parseYaml(read.text, { merge: true });
  if ("problem" in parsed) {
    const { line, column, path: at = "", message } = parsed.problem;
    ctx.out.errors.push({
      file: ctx.base,
      path: at,
      ...(line === undefined ? {} : { line }),
      ...(column === undefined ? {} : { column }),
      message,
    });
    return undefined;
  }
  const data = parsed.data;
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
    const split = shellWords(v);
    if (split.unterminated) return void fail(ctx, at, `unterminated quote in ${JSON.stringify(v)}`);
    words = split.commands.flat().map((w) => w.text);
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
