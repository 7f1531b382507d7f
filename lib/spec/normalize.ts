/**
 * A shape-checked envctl.yaml document -> EnvSpec: defaults, absolute paths (from the spec's
 * directory, inside the worktree), dependencies with the dot-paths they were written at.
 */
import { normalizeHivesync } from "./hivesync";
import * as path from "node:path";
import { PROXY_PORT } from "./model";
import { checkoutRoot, fromSpecDir, inCheckout } from "./worktree-paths";
import type {
  BuildContext,
  DependCondition,
  VolumeDecl,
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
import { shellQuote } from "../core/shell";
import { isBindSource, type ServiceDoc, type SpecDoc } from "./schema";

const DEFAULTS = { intervalMs: 1000, timeoutMs: 3000, retries: 60, startPeriodMs: 0 };
/** The a3s document's debounce (its gateway's file watcher uses the same). */
export const WATCH_DEBOUNCE_MS = 500;

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
    // `required: false` on a service the env does not have (another profile's): no dependency.
    const deps = dependencies(name, s).filter((d) => !d.optional || d.name in (doc.services ?? {}));
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
  if (doc.dev) {
    spec.dev = {
      proxyPort: doc.dev.proxy_port ?? PROXY_PORT,
      logLevel: doc.dev.log_level ?? "info",
    };
  }
  const temporal = temporalSpec(doc.temporal);
  if (temporal) spec.temporal = temporal;
  const volumes = volumeDecls(doc.volumes);
  if (volumes) spec.volumes = volumes;
  if (doc.networks && doc.networks.length > 0) spec.networks = [...doc.networks];
  if (doc.kind === "copilot") {
    spec.kind = "copilot";
    spec.copilot = {
      infra: doc.copilot?.infra ?? "aws",
      projectName: doc.copilot?.project_name ?? "copilot",
      region: doc.copilot?.region ?? "eu-west-1",
      dir,
    };
  }
  if (doc.kind === "hivesync") {
    spec.kind = "hivesync";
    spec.hivesync = normalizeHivesync(doc.hivesync, services, dir);
  }
  return { spec, depPaths };
}

function volumeDecls(v: SpecDoc["volumes"]): Record<string, VolumeDecl> | undefined {
  const out: Record<string, VolumeDecl> = {};
  for (const [name, d] of Object.entries(v ?? {})) {
    if (!d) continue;
    const decl: VolumeDecl = {};
    if (d.external) decl.external = true;
    if (d.name !== undefined) decl.name = d.name;
    if (d.driver !== undefined && d.driver !== "local") decl.driver = d.driver;
    if (d.driver_opts && Object.keys(d.driver_opts).length) decl.driverOpts = d.driver_opts;
    if (d.labels && Object.keys(d.labels).length) decl.labels = d.labels;
    if (Object.keys(decl).length) out[name] = decl;
  }
  return Object.keys(out).length ? out : undefined;
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

interface Dependency {
  name: string;
  path: string;
  condition?: DependCondition;
  /** `required: false`: dropped when the service is not in the env. */
  optional?: boolean;
}

const CONDITIONS: Record<string, DependCondition> = {
  service_started: "started",
  service_healthy: "healthy",
  service_completed_successfully: "completed",
};

function dependencies(name: string, s: ServiceDoc): Dependency[] {
  const base = `services.${name}.depends_on`;
  if (s.depends_on === undefined) return [];
  if (Array.isArray(s.depends_on))
    return s.depends_on.map((d, i) => ({ name: d, path: `${base}[${i}]` }));
  return Object.entries(s.depends_on).map(([d, spec]) => ({
    name: d,
    path: dotPath(["services", name, "depends_on", d]),
    ...(spec?.condition ? { condition: CONDITIONS[spec.condition]! } : {}),
    ...(spec?.required === false ? { optional: true } : {}),
  }));
}

function normalizeService(
  name: string,
  s: ServiceDoc,
  { dir, prefix }: { dir: string; prefix: string },
  deps: Dependency[],
): Service {
  const ports = (s.ports ?? []).map((p): PortMapping => {
    if (typeof p === "number") return { container: p, offset: p % 1000, protocol: "tcp" };
    // A process's `port` is kept where a container's port is: it names the port the same way.
    const n = p.container ?? p.port!; // the schema lets exactly one of them through
    return {
      container: n,
      offset: p.offset ?? n % 1000,
      protocol: p.protocol ?? "tcp",
      ...(p.host_ip !== undefined && p.host_ip !== "0.0.0.0" ? { hostIp: p.host_ip } : {}),
      ...(p.fixed ? { fixed: true } : {}),
    };
  });
  const conditions: Record<string, DependCondition> = {};
  for (const d of deps)
    if (d.condition && d.condition !== "healthy") conditions[d.name] = d.condition;
  const health =
    s.health !== undefined && !(s.health.test?.[0] === "NONE")
      ? healthCheck(s.health, ports[0]?.container)
      : undefined;
  const common = {
    name,
    env: stringMap(s.env),
    ports,
    dependsOn: [...new Set(deps.map((d) => d.name))],
    ...(Object.keys(conditions).length ? { conditions } : {}),
    cold: s.cold ?? false,
    ...(health ? { health } : {}),
    ...(s.subdomain !== undefined ? { subdomain: s.subdomain } : {}),
  };
  if ((s.type ?? (s.cmd !== undefined ? "process" : "container")) === "process") {
    return {
      ...common,
      type: "process",
      cmd: s.cmd!,
      dir: fromSpecDir(prefix, path.normalize(s.dir ?? ".")),
      ...(s.restart !== undefined && s.restart !== "no" ? { restart: s.restart } : {}),
      ...(s.max_restarts !== undefined ? { maxRestarts: s.max_restarts } : {}),
      ...(s.watch
        ? {
            watch: {
              paths: s.watch.paths.map((w) => fromSpecDir(prefix, path.normalize(w))),
              ignore: s.watch.ignore ?? [],
              restart: s.watch.restart ?? true,
              debounceMs: s.watch.debounce ?? WATCH_DEBOUNCE_MS,
            },
          }
        : {}),
    };
  }
  const out: Service = {
    ...common,
    type: "container",
    volumes: (s.volumes ?? []).map((v): VolumeMount => {
      if ("type" in v && v.type === "tmpfs") {
        return {
          source: "",
          target: v.target,
          kind: "tmpfs",
          readOnly: v.read_only ?? false,
          ...(v.tmpfs?.size !== undefined ? { tmpfsSize: v.tmpfs.size } : {}),
          ...(v.tmpfs?.mode !== undefined ? { tmpfsMode: v.tmpfs.mode } : {}),
        };
      }
      const bind = isBindSource(v.source);
      return {
        source: bind ? path.resolve(dir, v.source) : v.source,
        target: v.target,
        kind: bind ? "bind" : "volume",
        readOnly: v.read_only ?? false,
        ...("nocopy" in v && v.nocopy ? { noCopy: true } : {}),
      };
    }),
  };
  if (s.image !== undefined) out.image = s.image;
  if (s.build !== undefined) {
    out.build = buildContext(s.build, dir);
    // With both, the image names what is built (another service can build FROM it).
    if (s.image !== undefined) out.build.tag = s.image;
  }
  if (s.replicas !== undefined && s.replicas !== 1) out.replicas = s.replicas;
  if (s.backup) out.backup = s.backup;
  if (s.labels && Object.keys(s.labels).length) out.labels = s.labels;
  if (s.files && s.files.length) out.files = s.files;
  if (s.health?.test?.[0] === "NONE") out.docker = { ...out.docker, no_healthcheck: true };
  if (s.docker) {
    const docker = Object.fromEntries(
      Object.entries(s.docker).filter(([, v]) => v !== undefined),
    ) as NonNullable<typeof out.docker>;
    if (docker.networks) {
      docker.networks = Object.fromEntries(
        Object.entries(docker.networks).map(([n, o]) => [n, o ?? {}]),
      );
    }
    if (Object.keys(docker).length) out.docker = { ...out.docker, ...docker };
    // Sharing another service's network stack needs that container to exist first.
    const shared = docker.network_mode?.startsWith("service:")
      ? docker.network_mode.slice("service:".length)
      : undefined;
    if (shared && shared !== name && !out.dependsOn.includes(shared)) {
      out.dependsOn = [...out.dependsOn, shared];
      out.conditions = { ...out.conditions, [shared]: "started" };
    }
  }
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
  const out: BuildContext = {
    context: path.resolve(dir, b.context),
    dockerfile: b.dockerfile ?? "Dockerfile",
    args: stringMap(b.args),
  };
  if (b.target !== undefined) out.target = b.target;
  if (b.dockerfile_inline !== undefined) out.dockerfileInline = b.dockerfile_inline;
  if (b.additional_contexts && Object.keys(b.additional_contexts).length) {
    out.additionalContexts = Object.fromEntries(
      Object.entries(b.additional_contexts).map(([k, v]) => [
        k,
        /^[a-z][a-z0-9+.-]*:/i.test(v) ? v : path.resolve(dir, v),
      ]),
    );
  }
  return out;
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
  if (h.start_interval !== undefined) Object.assign(timing, { startIntervalMs: h.start_interval });
  if (h.test !== undefined) {
    const [form, ...rest] = h.test;
    const command =
      form === "CMD-SHELL"
        ? rest.join(" ")
        : rest.map((w) => shellQuote(w, { minimal: true })).join(" ");
    return { kind: "command", command, test: [...h.test], ...timing };
  }
  if (h.command !== undefined) return { kind: "command", command: h.command, ...timing };
  if (h.http !== undefined) {
    const port = h.port ?? firstPort;
    return { kind: "http", path: h.http, ...(port !== undefined ? { port } : {}), ...timing };
  }
  return { kind: "tcp", port: h.tcp, ...timing };
}
