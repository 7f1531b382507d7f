/**
 * envctl.yaml -> EnvSpec: YAML parse, zod shape check, normalization (defaults, absolute
 * paths), then rule checks across services (dependencies, port offsets, health ports).
 * Every problem is a SpecIssue with a dot-path; a spec is returned only when there are none.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { topoOrder } from "../core/graph";
import { offsetCollisions } from "./ports";
import { canonicalJson } from "../core/canonical";
import { checkTemplate } from "./template";
import { importCompose } from "./compose";
import { checkoutRoot, fromSpecDir, inCheckout, outsideWorktree } from "./worktree-paths";
import type {
  BuildContext,
  EnvSpec,
  ExportVar,
  HealthCheck,
  InitStep,
  PortMapping,
  Service,
  SpecIssue,
  TemporalSpec,
  VolumeMount,
} from "./model";
import { dotPath } from "../core/dot-path";
import {
  describeValue,
  isBindSource,
  specSchema,
  zodIssues,
  type ServiceDoc,
  type SpecDoc,
} from "./schema";

export interface ParseResult {
  spec?: EnvSpec;
  errors: SpecIssue[];
  warnings: SpecIssue[];
}

const DEFAULTS = { intervalMs: 1000, timeoutMs: 3000, retries: 60, startPeriodMs: 0 };
const OUTSIDE = "must be a path inside the worktree (relative to the spec's directory)";

/**
 * `services.web: must ...`, after the file when it is not the spec (`compose.yml: services...`,
 * `.env:3: ...`); an issue about the whole document is just its message.
 */
export function formatIssue(i: SpecIssue): string {
  const file = i.file && [i.file, i.line, i.column].filter((x) => x !== undefined).join(":");
  const where = [file, i.path].filter(Boolean).join(": ");
  return where ? `${where}: ${i.message}` : i.message;
}

/** Where a spec is read from; `repo` overrides the spec's own (a preset runs on the cwd's repo). */
export interface SpecOrigin {
  file: string;
  /** The repo's path, when the spec is not part of it: its dirs then start at the repo's root. */
  repo?: string;
}

export function loadSpecFile(file: string, opts: Omit<SpecOrigin, "file"> = {}): ParseResult {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, "utf8");
  } catch (err) {
    return {
      errors: [{ path: "", message: `cannot read ${abs}: ${readReason(err)}` }],
      warnings: [],
    };
  }
  return parseSpecText(text, { ...opts, file: abs });
}

function readReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return err instanceof Error ? err.message : String(err);
}

export function parseSpecText(text: string, opts: SpecOrigin): ParseResult {
  const warnings: SpecIssue[] = [];
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = yamlError.linePos?.[0];
    const where = pos ? `${opts.file}:${pos.line}:${pos.col}` : opts.file;
    const reason = yamlError.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    return { errors: [{ path: "", message: `${where}: invalid YAML: ${reason}` }], warnings };
  }
  for (const w of doc.warnings) {
    warnings.push({ path: "", message: `YAML: ${w.message.split("\n")[0]}` });
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    return { errors: [{ path: "", message: `invalid YAML: ${(err as Error).message}` }], warnings };
  }
  if (data === null || data === undefined) {
    return {
      errors: [{ path: "", message: 'the spec is empty; it needs a "services" mapping' }],
      warnings,
    };
  }
  if (typeof data !== "object" || Array.isArray(data)) {
    return {
      errors: [
        {
          path: "",
          message: `the spec must be a mapping with a "services" key, got ${describeValue(data)}`,
        },
      ],
      warnings,
    };
  }

  const dir = path.dirname(opts.file);
  const merged = withComposeServices(data as Record<string, unknown>, dir);
  warnings.push(...merged.warnings);
  if (merged.errors.length > 0) return { errors: merged.errors, warnings };
  return parseSpecData(merged.data, { dir, repo: opts.repo }, warnings);
}

/** Compose files given directly (`envctl up NAME -f docker-compose.yml -f override.yml`). */
export function loadComposeFiles(files: string[]): ParseResult {
  const abs = files.map((f) => path.resolve(f));
  const missing = abs.find((f) => !fs.existsSync(f));
  if (missing)
    return {
      errors: [{ path: "", message: `cannot read ${missing}: no such file` }],
      warnings: [],
    };
  return parseSpecText(`compose: ${JSON.stringify(abs)}\n`, {
    file: path.join(path.dirname(abs[0]!), "envctl.yaml"),
  });
}

function parseSpecData(
  data: unknown,
  where: { dir: string; repo?: string | undefined },
  warnings: SpecIssue[],
): ParseResult {
  const parsed = specSchema.safeParse(data);
  if (!parsed.success) {
    return { errors: zodIssues(parsed.error.issues, [], data), warnings };
  }
  const { spec, depPaths } = normalize(parsed.data, where);
  const errors = checkRules(spec, depPaths, parsed.data, warnings);
  return errors.length > 0 ? { errors, warnings } : { spec, errors, warnings };
}

/**
 * `compose:` files become services; a service of the same name in envctl.yaml overrides the
 * imported fields it sets (so a spec can add a health check or an offset to a compose service).
 */
function withComposeServices(
  data: Record<string, unknown>,
  dir: string,
): { data: Record<string, unknown>; errors: SpecIssue[]; warnings: SpecIssue[] } {
  const files = data.compose;
  if (files === undefined) return { data, errors: [], warnings: [] };
  const list = typeof files === "string" ? [files] : Array.isArray(files) ? files : undefined;
  if (!list || !list.every((f) => typeof f === "string" && f.length > 0)) {
    return {
      data,
      errors: [{ path: "compose", message: "must be a file or a list of files" }],
      warnings: [],
    };
  }
  const abs = (list as string[]).map((f) => path.resolve(dir, f));
  const missing = abs.findIndex((f) => !fs.existsSync(f));
  if (missing >= 0) {
    const at = typeof files === "string" ? "compose" : `compose[${missing}]`;
    return {
      data,
      errors: [{ path: at, message: `cannot read ${abs[missing]}: no such file` }],
      warnings: [],
    };
  }
  const imported = importCompose(abs);
  const own = data.services;
  const services: Record<string, unknown> = { ...imported.services };
  if (own !== null && typeof own === "object" && !Array.isArray(own)) {
    for (const [name, svc] of Object.entries(own as Record<string, unknown>)) {
      const base = services[name];
      services[name] =
        base && svc && typeof svc === "object" && !Array.isArray(svc)
          ? overlay(base as Record<string, unknown>, svc as Record<string, unknown>)
          : svc;
    }
  } else if (own !== undefined) {
    services.__invalid = own; // let the schema report it
  }
  const out = {
    ...data,
    services: own !== undefined && services.__invalid !== undefined ? own : services,
  };
  return { data: out, errors: imported.errors, warnings: imported.warnings };
}

// ---------------------------------------------------------------------------------------------
// normalization

/** Where each entry of a service's dependsOn was written, for error paths. */
type DepPaths = Map<string, { name: string; path: string }[]>;

function normalize(
  doc: SpecDoc,
  where: { dir: string; repo?: string | undefined },
): { spec: EnvSpec; depPaths: DepPaths } {
  const { dir } = where;
  const repo = where.repo ?? path.resolve(dir, doc.repo ?? ".");
  const root = checkoutRoot(repo) ?? repo;
  // Dirs are written relative to the spec; a spec outside the repo (a preset) starts at its root.
  const prefix = (where.repo === undefined ? inCheckout(root, dir) : undefined) ?? ".";
  const depPaths: DepPaths = new Map();
  const services = Object.entries(doc.services ?? {}).map(([name, s]) => {
    const deps = dependencies(name, s);
    depPaths.set(name, deps);
    return normalizeService(name, s, { dir, prefix }, deps);
  });
  const init = initSteps(doc.init, prefix);
  const spec: EnvSpec = {
    repo,
    root,
    base: doc.base ?? "HEAD",
    services,
    exports: exportVars(doc.exports),
    init,
    initAfter:
      doc.init && !Array.isArray(doc.init) && doc.init.after
        ? doc.init.after
        : services.filter((s) => s.type === "container").map((s) => s.name),
  };
  const temporal = temporalSpec(doc.temporal);
  if (temporal) spec.temporal = temporal;
  return { spec, depPaths };
}

function exportVars(e: SpecDoc["exports"]): ExportVar[] {
  if (e === undefined) return [];
  const one = (vars: Record<string, string | number | boolean>, section?: string): ExportVar[] =>
    Object.entries(vars).map(([name, v]) => ({
      name,
      value: String(v),
      ...(section !== undefined ? { section } : {}),
    }));
  return Array.isArray(e) ? e.flatMap((g) => one(g.vars, g.section)) : one(e);
}

function initSteps(i: SpecDoc["init"], prefix: string): InitStep[] {
  if (i === undefined) return [];
  const steps = Array.isArray(i) ? i : i.steps;
  return steps.map((st, n) =>
    typeof st === "string"
      ? { name: `step-${n + 1}`, run: st, dir: fromSpecDir(prefix, ".") }
      : {
          name: st.name ?? `step-${n + 1}`,
          run: st.run,
          dir: fromSpecDir(prefix, st.dir ?? "."),
        },
  );
}

function temporalSpec(t: SpecDoc["temporal"]): TemporalSpec | undefined {
  if (t === undefined) return undefined;
  return {
    address: t.address ?? "localhost:7233",
    namespaces: t.namespaces ?? [],
    searchAttributes: t.search_attributes ?? {},
  };
}

/** envctl.yaml fields over an imported compose service; `env` merges by variable. */
function overlay(
  base: Record<string, unknown>,
  own: Record<string, unknown>,
): Record<string, unknown> {
  const out = { ...base, ...own };
  const isMap = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  if (isMap(base.env) && isMap(own.env)) out.env = { ...base.env, ...own.env };
  return out;
}

function dependencies(name: string, s: ServiceDoc): { name: string; path: string }[] {
  const base = `services.${name}.depends_on`;
  if (s.depends_on === undefined) return [];
  if (Array.isArray(s.depends_on))
    return s.depends_on.map((d, i) => ({ name: d, path: `${base}[${i}]` }));
  return Object.keys(s.depends_on).map((d) => ({
    name: d,
    path: dotPath(["services", name, "depends_on", d]),
  }));
}

function normalizeService(
  name: string,
  s: ServiceDoc,
  { dir, prefix }: { dir: string; prefix: string },
  deps: { name: string }[],
): Service {
  const ports = (s.ports ?? []).map((p): PortMapping =>
    typeof p === "number"
      ? { container: p, offset: p % 1000, protocol: "tcp" as const }
      : {
          container: p.container,
          offset: p.offset ?? p.container % 1000,
          protocol: p.protocol ?? "tcp",
        },
  );
  const common = {
    name,
    env: stringMap(s.env),
    ports,
    dependsOn: [...new Set(deps.map((d) => d.name))],
    cold: s.cold ?? false,
    ...(s.health !== undefined ? { health: healthCheck(s.health, ports[0]?.container) } : {}),
  };
  if ((s.type ?? (s.cmd !== undefined ? "process" : "container")) === "process") {
    return {
      ...common,
      type: "process",
      cmd: s.cmd!,
      dir: fromSpecDir(prefix, path.normalize(s.dir ?? ".")),
    };
  }
  const out: Service = {
    ...common,
    type: "container",
    volumes: (s.volumes ?? []).map((v): VolumeMount => {
      const bind = isBindSource(v.source);
      return {
        source: bind ? path.resolve(dir, v.source) : v.source,
        target: v.target,
        kind: bind ? "bind" : "volume",
        readOnly: v.read_only ?? false,
      };
    }),
  };
  if (s.image !== undefined) out.image = s.image;
  if (s.build !== undefined) out.build = buildContext(s.build, dir);
  if (s.command !== undefined) out.command = shellWords(s.command);
  if (s.entrypoint !== undefined) out.entrypoint = shellWords(s.entrypoint);
  if (s.ulimits !== undefined && Object.keys(s.ulimits).length > 0) {
    out.ulimits = Object.fromEntries(
      Object.entries(s.ulimits).map(([k, v]) => [
        k,
        typeof v === "number" ? { soft: v, hard: v } : v,
      ]),
    );
  }
  return out;
}

function buildContext(b: NonNullable<ServiceDoc["build"]>, dir: string): BuildContext {
  if (typeof b === "string")
    return { context: path.resolve(dir, b), dockerfile: "Dockerfile", args: {} };
  return {
    context: path.resolve(dir, b.context),
    dockerfile: b.dockerfile ?? "Dockerfile",
    args: stringMap(b.args),
  };
}

/** A string command in envctl.yaml runs through `sh -c` (compose import sends word lists). */
function shellWords(c: string | string[]): string[] {
  return typeof c === "string" ? ["sh", "-c", c] : [...c];
}

function stringMap(
  m: Record<string, string | number | boolean> | undefined,
): Record<string, string> {
  return Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, String(v)]));
}

function healthCheck(
  h: NonNullable<ServiceDoc["health"]>,
  firstPort: number | undefined,
): HealthCheck {
  const timing = {
    intervalMs: h.interval ?? DEFAULTS.intervalMs,
    timeoutMs: h.timeout ?? DEFAULTS.timeoutMs,
    retries: h.retries ?? DEFAULTS.retries,
    startPeriodMs: h.start_period ?? DEFAULTS.startPeriodMs,
  };
  if (h.command !== undefined) return { kind: "command", command: h.command, ...timing };
  if (h.http !== undefined) {
    const port = h.port ?? firstPort;
    return { kind: "http", path: h.http, ...(port !== undefined ? { port } : {}), ...timing };
  }
  return { kind: "tcp", port: h.tcp, ...timing };
}

// ---------------------------------------------------------------------------------------------
// rules across services

function checkRules(
  spec: EnvSpec,
  depPaths: DepPaths,
  doc: SpecDoc,
  warnings: SpecIssue[],
): SpecIssue[] {
  const errors: SpecIssue[] = [];
  const byName = new Map(spec.services.map((s) => [s.name, s]));
  errors.push(...templateIssues(spec, doc), ...initIssues(spec, doc));
  for (const s of spec.services) {
    const seen = new Set<string>();
    for (const d of depPaths.get(s.name) ?? []) {
      const target = byName.get(d.name);
      if (d.name === s.name)
        errors.push({ path: d.path, message: "a service cannot depend on itself" });
      else if (!target) errors.push({ path: d.path, message: `unknown service "${d.name}"` });
      else if (seen.has(d.name))
        warnings.push({ path: d.path, message: `duplicate dependency "${d.name}"` });
      else if (s.cold && !target.cold) {
        errors.push({
          path: d.path,
          message: `${s.name} runs while the env is cold but "${d.name}" only runs warm; mark ${d.name} cold: true or drop the dependency`,
        });
      } else if (!target.health) {
        warnings.push({
          path: d.path,
          message: `"${d.name}" has no health check; ${s.name} starts as soon as ${d.name} is running`,
        });
      }
      seen.add(d.name);
    }
    errors.push(...healthPortIssues(s));
    if (s.type === "process" && outsideWorktree(s.dir)) {
      errors.push({ path: `services.${s.name}.dir`, message: OUTSIDE });
    }
  }

  // Self-dependencies and unknown names are reported above; the graph only sees the rest.
  const graph = spec.services.map((s) => ({
    name: s.name,
    dependsOn: s.dependsOn.filter((d) => d !== s.name && byName.has(d)),
  }));
  const topo = topoOrder(graph);
  if (!topo.ok) {
    const members = [...topo.cycle, topo.cycle[0]!];
    errors.push({ path: "services", message: `dependency cycle: ${members.join(" -> ")}` });
  }
  errors.push(...offsetCollisions(spec.services));
  return errors;
}

/** Every `{{...}}` must resolve against this spec. */
function templateIssues(spec: EnvSpec, doc: SpecDoc): SpecIssue[] {
  const out: SpecIssue[] = [];
  const check = (at: string, text: string): void => {
    const problem = checkTemplate(text, spec);
    if (problem) out.push({ path: at, message: problem });
  };
  if (Array.isArray(doc.exports)) {
    doc.exports.forEach((g, i) => {
      for (const [k, v] of Object.entries(g.vars)) check(`exports[${i}].vars.${k}`, String(v));
    });
  } else {
    for (const [k, v] of Object.entries(doc.exports ?? {})) check(`exports.${k}`, String(v));
  }
  const seen = new Map<string, string>();
  spec.exports.forEach((v) => {
    if (seen.has(v.name)) out.push({ path: "exports", message: `${v.name} is exported twice` });
    seen.set(v.name, v.value);
  });
  for (const s of spec.services) {
    if (s.type === "process") check(`services.${s.name}.cmd`, s.cmd);
    for (const [k, v] of Object.entries(s.env)) check(`services.${s.name}.env.${k}`, v);
  }
  const steps = Array.isArray(doc.init) ? doc.init : doc.init?.steps;
  spec.init.forEach((st, i) => {
    const at = Array.isArray(doc.init) ? `init[${i}]` : `init.steps[${i}]`;
    check(typeof steps?.[i] === "string" ? at : `${at}.run`, st.run);
  });
  spec.temporal?.namespaces.forEach((n, i) => check(`temporal.namespaces[${i}]`, n));
  return out;
}

function initIssues(spec: EnvSpec, doc: SpecDoc): SpecIssue[] {
  const out: SpecIssue[] = [];
  const names = new Set(spec.services.map((s) => s.name));
  if (doc.init && !Array.isArray(doc.init)) {
    (doc.init.after ?? []).forEach((a, i) => {
      if (!names.has(a)) out.push({ path: `init.after[${i}]`, message: `unknown service "${a}"` });
    });
  }
  const stepNames = new Set<string>();
  spec.init.forEach((st, i) => {
    if (stepNames.has(st.name))
      out.push({ path: `init.steps[${i}].name`, message: `duplicate step "${st.name}"` });
    stepNames.add(st.name);
    if (outsideWorktree(st.dir)) out.push({ path: `init.steps[${i}].dir`, message: OUTSIDE });
  });
  return out;
}

function healthPortIssues(s: Service): SpecIssue[] {
  const h = s.health;
  if (!h || h.kind === "command") return [];
  const field = h.kind === "tcp" ? "tcp" : "port";
  const at = `services.${s.name}.health`;
  if (h.port === undefined) {
    return [{ path: `${at}.http`, message: 'the service publishes no ports; add one to "ports"' }];
  }
  const listed = s.ports.filter((p) => p.container === h.port);
  if (listed.length === 0) {
    return [
      { path: `${at}.${field}`, message: `port ${h.port} is not one of the service's ports` },
    ];
  }
  if (!listed.some((p) => p.protocol === "tcp")) {
    return [
      {
        path: `${at}.${field}`,
        message: `port ${h.port} is published as udp; ${h.kind} checks need tcp`,
      },
    ];
  }
  return [];
}

// ---------------------------------------------------------------------------------------------

/** sha256 of the spec as JSON with sorted keys, so key order never changes the hash. */
export function specHash(spec: EnvSpec): string {
  return createHash("sha256").update(canonicalJson(spec)).digest("hex");
}
