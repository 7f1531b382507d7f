/**
 * envctl.yaml -> EnvSpec: YAML parse, zod shape check, normalization (defaults, absolute
 * paths), then rule checks across services (dependencies, port offsets, health ports).
 * Every problem is a SpecIssue with a dot-path; a spec is returned only when there are none.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { topoOrder } from "../graph";
import { offsetCollisions } from "../ports";
import { canonicalJson } from "../canonical";
import type {
  BuildContext,
  ContainerService,
  EnvSpec,
  HealthCheck,
  SpecIssue,
  VolumeMount,
} from "./model";
import {
  describeValue,
  dotPath,
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

/** `services.web: must ...`; an issue about the whole document is just its message. */
export function formatIssue(i: SpecIssue): string {
  return i.path ? `${i.path}: ${i.message}` : i.message;
}

export function loadSpecFile(file: string): ParseResult {
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
  return parseSpecText(text, { file: abs });
}

function readReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return err instanceof Error ? err.message : String(err);
}

export function parseSpecText(text: string, opts: { file: string }): ParseResult {
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

  const parsed = specSchema.safeParse(data);
  if (!parsed.success) {
    return { errors: zodIssues(parsed.error.issues, [], data), warnings };
  }
  const { spec, depPaths } = normalize(parsed.data, path.dirname(opts.file));
  const errors = checkRules(spec, depPaths, warnings);
  return errors.length > 0 ? { errors, warnings } : { spec, errors, warnings };
}

// ---------------------------------------------------------------------------------------------
// normalization

/** Where each entry of a service's dependsOn was written, for error paths. */
type DepPaths = Map<string, { name: string; path: string }[]>;

function normalize(doc: SpecDoc, dir: string): { spec: EnvSpec; depPaths: DepPaths } {
  const depPaths: DepPaths = new Map();
  const services = Object.entries(doc.services).map(([name, s]) => {
    const deps = dependencies(name, s);
    depPaths.set(name, deps);
    return normalizeService(name, s, dir, deps);
  });
  return {
    spec: { repo: path.resolve(dir, doc.repo ?? "."), base: doc.base ?? "HEAD", services },
    depPaths,
  };
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
  dir: string,
  deps: { name: string }[],
): ContainerService {
  const out: ContainerService = {
    name,
    type: "container",
    env: stringMap(s.env),
    ports: (s.ports ?? []).map((p) =>
      typeof p === "number"
        ? { container: p, offset: p % 1000, protocol: "tcp" as const }
        : {
            container: p.container,
            offset: p.offset ?? p.container % 1000,
            protocol: p.protocol ?? "tcp",
          },
    ),
    volumes: (s.volumes ?? []).map((v): VolumeMount => {
      const bind = isBindSource(v.source);
      return {
        source: bind ? path.resolve(dir, v.source) : v.source,
        target: v.target,
        kind: bind ? "bind" : "volume",
        readOnly: v.read_only ?? false,
      };
    }),
    dependsOn: [...new Set(deps.map((d) => d.name))],
  };
  if (s.image !== undefined) out.image = s.image;
  if (s.build !== undefined) out.build = buildContext(s.build, dir);
  if (s.command !== undefined) out.command = shellWords(s.command);
  if (s.entrypoint !== undefined) out.entrypoint = shellWords(s.entrypoint);
  if (s.health !== undefined) out.health = healthCheck(s.health, out.ports[0]?.container);
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

/** A string command runs through a shell, like compose's string form. */
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

function checkRules(spec: EnvSpec, depPaths: DepPaths, warnings: SpecIssue[]): SpecIssue[] {
  const errors: SpecIssue[] = [];
  const byName = new Map(spec.services.map((s) => [s.name, s]));
  for (const s of spec.services) {
    const seen = new Set<string>();
    for (const d of depPaths.get(s.name) ?? []) {
      const target = byName.get(d.name);
      if (d.name === s.name)
        errors.push({ path: d.path, message: "a service cannot depend on itself" });
      else if (!target) errors.push({ path: d.path, message: `unknown service "${d.name}"` });
      else if (seen.has(d.name))
        warnings.push({ path: d.path, message: `duplicate dependency "${d.name}"` });
      else if (!target.health) {
        warnings.push({
          path: d.path,
          message: `"${d.name}" has no health check; ${s.name} starts as soon as ${d.name} is running`,
        });
      }
      seen.add(d.name);
    }
    errors.push(...healthPortIssues(s));
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

function healthPortIssues(s: ContainerService): SpecIssue[] {
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
