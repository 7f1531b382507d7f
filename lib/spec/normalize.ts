/**
 * A shape-checked envctl.yaml document -> EnvSpec: defaults, absolute paths (from the spec's
 * directory, inside the worktree), dependencies with the dot-paths they were written at.
 */
import * as path from "node:path";
import { checkoutRoot, fromSpecDir, inCheckout } from "./worktree-paths";
import type {
  BuildContext,
  EnvSpec,
  ExportVar,
  HealthCheck,
  InitStep,
  PortMapping,
  Service,
  TemporalSpec,
  VolumeMount,
} from "./model";
import { dotPath } from "../core/dot-path";
import { isBindSource, type ServiceDoc, type SpecDoc } from "./schema";

const DEFAULTS = { intervalMs: 1000, timeoutMs: 3000, retries: 60, startPeriodMs: 0 };
export const OUTSIDE = "must be a path inside the worktree (relative to the spec's directory)";

/** Where each entry of a service's dependsOn was written, for error paths. */
export type DepPaths = Map<string, { name: string; path: string }[]>;

export function normalize(
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
export function overlay(
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
  const ports = (s.ports ?? []).map((p): PortMapping => {
    if (typeof p === "number") return { container: p, offset: p % 1000, protocol: "tcp" };
    // A process's `port` is kept where a container's port is: it names the port the same way.
    const n = p.container ?? p.port!; // the schema lets exactly one of them through
    return { container: n, offset: p.offset ?? n % 1000, protocol: p.protocol ?? "tcp" };
  });
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
