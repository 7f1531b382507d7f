/**
 * docker-compose import: Docker Compose normalizes the files (compose/reference.ts: `config
 * --format json`, which does interpolation, `.env`, env_file, overrides, extends, include,
 * profiles and anchors), and this file maps that project onto envctl.yaml form, which then goes
 * through the same schema and rules as envctl.yaml.
 *
 * Every service key of the compose spec is either mapped (to an envctl field, or to `docker:`,
 * the container runtime options, which reach the Docker API as Compose passes them) or named in
 * a warning with the reason envctl ignores it. A key is an error only when envctl cannot run the
 * service with it at all.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { composeConfig, type ComposeOptions, type ComposeProject } from "./compose/reference";
import { goDurationNs } from "../core/duration";
import type { SpecIssue } from "./model";
import { LITERAL_BRACES } from "./template";

export interface ComposeImport {
  /** Services in envctl.yaml form (the input shape of `services` in envctl.yaml), file order. */
  services: Record<string, Record<string, unknown>>;
  /** Top-level `volumes` and `networks` in envctl.yaml form, when the project declares any. */
  volumes?: Record<string, Record<string, unknown>>;
  networks?: string[];
  /** Problems that stop the import, each with its file (base name) and dot-path. */
  errors: SpecIssue[];
  /** Keys envctl ignores on purpose (container_name, logging, ...), each by name. */
  warnings: SpecIssue[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Service keys envctl accepts and drops, with the reason the warning gives. */
export const IGNORED_SERVICE_KEYS: Record<string, string> = {
  container_name: "envctl names containers per env (envctl-ENV-SERVICE)",
  logging: "envctl keeps each service's log with the env (`envctl logs`)",
  develop: "file watching is not part of envctl's container services yet",
  pull_policy: "envctl pulls an image only when it is missing",
  attach: "envctl keeps every service's log",
  annotations: "the Docker engine API envctl targets has no container annotations",
  external_links: "envctl's services reach only their own env",
  credential_spec: "a Windows container option",
  cpu_count: "a Windows container option",
  cpu_percent: "a Windows container option",
  cpu_rt_runtime: "real-time scheduling is not passed on",
  cpu_rt_period: "real-time scheduling is not passed on",
  blkio_config: "block-IO weights are not passed on",
  gpus: "GPU requests are not passed on",
  use_api_socket: "the Docker socket is not passed into containers",
  models: "model runners are not part of envctl",
};

/** The service keys that go to `docker:` unchanged (or with their values' form fixed). */
const DOCKER_KEYS = [
  "init",
  "user",
  "working_dir",
  "hostname",
  "domainname",
  "mac_address",
  "restart",
  "stop_signal",
  "stop_grace_period",
  "platform",
  "tmpfs",
  "extra_hosts",
  "cap_add",
  "cap_drop",
  "privileged",
  "shm_size",
  "tty",
  "stdin_open",
  "device_cgroup_rules",
  "dns",
  "dns_search",
  "dns_opt",
  "security_opt",
  "read_only",
  "pid",
  "ipc",
  "uts",
  "userns_mode",
  "cgroup",
  "cgroup_parent",
  "runtime",
  "isolation",
  "network_mode",
  "links",
  "expose",
  "mem_limit",
  "mem_reservation",
  "memswap_limit",
  "mem_swappiness",
  "oom_kill_disable",
  "oom_score_adj",
  "cpus",
  "cpu_shares",
  "cpu_period",
  "cpu_quota",
  "cpuset",
  "pids_limit",
  "sysctls",
  "group_add",
  "storage_opt",
  "post_start",
  "pre_stop",
] as const;
/** Numbers Compose prints as strings: sizes in bytes, and mem_swappiness. */
const BYTE_KEYS = new Set([
  "shm_size",
  "mem_limit",
  "mem_reservation",
  "memswap_limit",
  "mem_swappiness",
]);

/** Keys Compose has already applied (profiles, extends) or that are read with another key. */
const APPLIED_KEYS = new Set([
  "ports",
  "profiles",
  "extends",
  "env_file",
  "label_file",
  "volumes_from",
  "devices",
  "scale",
  "deploy",
  "configs",
  "secrets",
  "networks",
]);

/** Reads `files` (later ones overriding earlier ones; the first one's directory is the project's) through Docker Compose. */
export function importCompose(files: string[], opts: ComposeOptions = {}): ComposeImport {
  const out: ComposeImport = { services: {}, errors: [], warnings: [] };
  if (files.length === 0) {
    out.errors.push({ path: "", message: "no compose files given" });
    return out;
  }
  const res = composeConfig(
    files.map((f) => path.resolve(f)),
    opts,
  );
  if ("error" in res) {
    out.errors.push(res.error);
    return out;
  }
  mapProject(res.project, opts.env ?? process.env, out, res.order);
  if (out.errors.length === 0) checkPaths(res.project, path.dirname(path.resolve(files[0]!)), out);
  // Compose's project no longer says which file a key came from; with one file, it is that one.
  if (files.length === 1) {
    const file = path.basename(files[0]!);
    for (const i of [...out.errors, ...out.warnings]) i.file ??= file;
  }
  // Only what envctl can read is kept: a refused project leaves nothing behind.
  if (out.errors.length === 0) res.save();
  return out;
}

/**
 * What Compose leaves to `up` to find missing: a build context that is not a directory, a secret
 * or config file that does not exist (Docker would bind an empty directory in its place).
 */
function checkPaths(project: ComposeProject, dir: string, out: ComposeImport): void {
  const rel = (f: string): string => path.relative(dir, f) || f;
  const kind = (f: string): "dir" | "file" | undefined => {
    try {
      return fs.statSync(f).isDirectory() ? "dir" : "file";
    } catch {
      return undefined;
    }
  };
  for (const [name, svc] of Object.entries(project.services)) {
    const ctx = isObj(svc.build) ? svc.build.context : undefined;
    if (typeof ctx === "string" && !REMOTE_CONTEXT_RE.test(ctx) && kind(ctx) !== "dir") {
      out.errors.push({
        path: dot(["services", name, "build", "context"]),
        message: `${rel(ctx)} is not a directory`,
      });
    }
    for (const k of ["secrets", "configs"] as const) {
      (Array.isArray(svc[k]) ? (svc[k] as unknown[]) : []).forEach((ref, i) => {
        const file =
          isObj(ref) && typeof ref.source === "string" ? project[k]?.[ref.source]?.file : undefined;
        if (typeof file === "string" && kind(file) === undefined) {
          out.errors.push({
            path: dot(["services", name, k, i]),
            message: `${k.slice(0, -1)} "${String((ref as Obj).source)}" is read from ${rel(file)}: no such file`,
          });
        }
      });
    }
  }
}

/**
 * The normalized project -> envctl.yaml form, services in `order` (the files' order; Compose
 * prints them sorted), the ones it does not name after, in Compose's order.
 */
export function mapProject(
  project: ComposeProject,
  env: NodeJS.ProcessEnv,
  out: ComposeImport = { services: {}, errors: [], warnings: [] },
  order: string[] = [],
): ComposeImport {
  const ctx: Ctx = { project, env, out, offsets: new Set() };
  const all = project.services ?? {};
  const names = [...new Set([...order.filter((n) => n in all), ...Object.keys(all)])];
  const services = names.map((n) => [n, all[n]!] as const);
  if (services.length === 0) {
    out.errors.push({
      path: "services",
      message: "no services defined (or none in the active profiles)",
    });
    return out;
  }
  volumes(ctx);
  networks(ctx);
  // Published ports take their offsets first, in file order; then ports without one.
  const unpublished: [string, Obj, number][] = [];
  for (const [name, svc] of services) {
    const mapped = service(ctx, name, svc);
    out.services[name] = mapped;
    const ports = (mapped.ports ?? []) as Obj[];
    ports.forEach((p, i) => {
      if (p.offset === undefined) unpublished.push([name, p, i]);
    });
  }
  for (const [name, p, i] of unpublished) {
    p.offset = freeOffset(ctx, Number(p.container) % 1000, String(p.protocol));
    if (p.offset === undefined)
      fail(ctx, ["services", name, "ports", i], "the env's port block has no free offset left");
  }
  return out;
}

interface Ctx {
  project: ComposeProject;
  env: NodeJS.ProcessEnv;
  out: ComposeImport;
  /** Offsets of the port block taken so far, as `offset/protocol`. */
  offsets: Set<string>;
}

const dot = (at: PropertyKey[]): string =>
  at
    .map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`))
    .join("");
function fail(ctx: Ctx, at: PropertyKey[], message: string): void {
  ctx.out.errors.push({ path: dot(at), message });
}
function warn(ctx: Ctx, at: PropertyKey[], message: string): void {
  ctx.out.warnings.push({ path: dot(at), message });
}

/** The first offset from `from` (wrapping) no port of the env has taken for `protocol`; taken. */
function freeOffset(ctx: Ctx, from: number, protocol = "tcp"): number | undefined {
  for (let i = 0; i < 1000; i++) {
    const o = (from + i) % 1000;
    if (!ctx.offsets.has(`${o}/${protocol}`)) {
      ctx.offsets.add(`${o}/${protocol}`);
      return o;
    }
  }
  return undefined;
}

/** Top-level networks: each env makes its own bridge networks by these names. */
function networks(ctx: Ctx): void {
  const decls = ctx.project.networks ?? {};
  for (const [n, decl] of Object.entries(decls)) {
    for (const [k, v] of Object.entries(decl)) {
      const at = ["networks", n, k];
      if (k === "external" && v)
        warn(ctx, at, `the env makes its own network "${n}" instead of joining an existing one`);
      else if (k === "driver" && v !== "bridge")
        warn(ctx, at, `"${String(v)}" is ignored: env networks are bridge networks`);
      else if (k === "name" && v !== `envctl_${n}` && !decl.external)
        warn(ctx, at, "envctl names each env's networks itself");
      else if (k === "ipam" && isObj(v) && Object.keys(v).length > 0)
        warn(ctx, at, "is ignored: Docker assigns the env's subnets");
      else if (!["external", "driver", "name", "ipam"].includes(k) && !k.startsWith("x-"))
        warn(ctx, at, `"${k}" is ignored for networks`);
    }
  }
  const nets = Object.keys(decls).filter((n) => n !== "default");
  if (nets.length > 0) ctx.out.networks = nets;
}

const VOLUME_KEYS = ["name", "external", "driver", "driver_opts", "labels"];

function volumes(ctx: Ctx): void {
  const decls = ctx.project.volumes ?? {};
  const outVols: Record<string, Obj> = {};
  for (const [name, d] of Object.entries(decls)) {
    const at = ["volumes", name];
    const v: Obj = {};
    if (d.external) {
      v.external = true;
      v.name = typeof d.name === "string" ? d.name : name;
    } else if (typeof d.name === "string" && d.name !== `envctl_${name}`) {
      warn(
        ctx,
        [...at, "name"],
        "envctl names each env's volumes itself (external: true uses a volume by its name)",
      );
    }
    if (typeof d.driver === "string" && d.driver !== "local") v.driver = d.driver;
    if (isObj(d.driver_opts)) v.driver_opts = d.driver_opts;
    if (isObj(d.labels) && Object.keys(d.labels).length) v.labels = d.labels;
    for (const k of Object.keys(d)) {
      if (!VOLUME_KEYS.includes(k) && !k.startsWith("x-"))
        warn(ctx, [...at, k], `"${k}" is ignored for volumes`);
    }
    if (Object.keys(v).length) outVols[name] = v;
  }
  if (Object.keys(outVols).length) ctx.out.volumes = outVols;
}

// ---------------------------------------------------------------------------------------------
// one service

function service(ctx: Ctx, name: string, svc: Obj): Obj {
  const at = ["services", name];
  const s: Obj = {};
  const docker: Obj = {};
  for (const [key, value] of Object.entries(svc)) {
    const kat = [...at, key];
    if (value === null || key.startsWith("x-")) continue;
    if ((DOCKER_KEYS as readonly string[]).includes(key)) {
      docker[key] = BYTE_KEYS.has(key) ? bytes(value) : value;
    } else if (IGNORED_SERVICE_KEYS[key]) {
      warn(ctx, kat, `"${key}" is ignored: ${IGNORED_SERVICE_KEYS[key]}`);
    } else if (key in FIELDS) {
      FIELDS[key]!(ctx, kat, value, s, docker, svc);
    } else if (!APPLIED_KEYS.has(key)) {
      fail(ctx, kat, "not supported by envctl");
    }
  }
  deploy(ctx, at, svc, s, docker);
  files(ctx, at, svc, s);
  if (Array.isArray(svc.devices)) {
    docker.devices = svc.devices.map((d) =>
      isObj(d) ? [d.source, d.target ?? d.source, d.permissions ?? "rwm"].join(":") : String(d),
    );
  }
  if (Array.isArray(svc.volumes_from) && svc.volumes_from.length)
    docker.volumes_from = svc.volumes_from;
  if (isObj(svc.networks)) {
    docker.networks = Object.fromEntries(
      Object.entries(svc.networks).map(([n, o]) => {
        if (!isObj(o)) return [n, null];
        for (const k of Object.keys(o)) {
          if (!NETWORK_OPTIONS.includes(k))
            warn(ctx, [...at, "networks", n, k], `"${k}" is ignored for a service's networks`);
        }
        return [n, pick(o, NETWORK_OPTIONS)];
      }),
    );
  }
  // After replicas and network_mode are known: ports that are not published take no offset.
  if (Array.isArray(svc.ports) && svc.ports.length > 0) {
    const pat = [...at, "ports"];
    if (typeof docker.network_mode === "string" && docker.network_mode !== "bridge") {
      warn(
        ctx,
        pat,
        `ports are not published with network_mode "${docker.network_mode}": the container uses that network's ports`,
      );
    } else if (typeof s.replicas === "number" && s.replicas > 1) {
      warn(
        ctx,
        pat,
        `not published: ${s.replicas} replicas are reached by the name "${name}" on the env's network`,
      );
    } else {
      const ports = svc.ports.flatMap((p, i) => port(ctx, [...pat, i], p));
      if (ports.length) s.ports = ports;
    }
  }
  if (Object.keys(docker).length) s.docker = docker;
  if (s.image === undefined && s.build === undefined)
    fail(ctx, at, 'one of "image" or "build" is required');
  return s;
}

const NETWORK_OPTIONS = ["aliases", "ipv4_address", "ipv6_address", "priority"];

type Field = (ctx: Ctx, at: PropertyKey[], v: unknown, s: Obj, docker: Obj, svc: Obj) => void;

const FIELDS: Record<string, Field> = {
  image: (_ctx, _at, v, s) => {
    s.image = v;
  },
  build: (ctx, at, v, s) => {
    const b = build(ctx, at, v);
    if (b) s.build = b;
  },
  command: (ctx, at, v, s) => {
    const c = words(ctx, at, v);
    if (c) s.command = c;
  },
  entrypoint: (ctx, at, v, s) => {
    const c = words(ctx, at, v);
    if (c) s.entrypoint = c;
  },
  environment: (_ctx, _at, v, s) => {
    if (!isObj(v)) return;
    // A variable without a value that the environment does not set is not passed, as in Compose.
    // Compose values are never envctl templates: a `{{` in one stays literal.
    const env = Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== null && x !== undefined)
        .map(([k, x]) => [k, typeof x === "string" ? x.split("{{").join(LITERAL_BRACES) : x]),
    );
    if (Object.keys(env).length) s.env = env;
  },
  labels: (_ctx, _at, v, s) => {
    if (isObj(v) && Object.keys(v).length) s.labels = v;
  },
  volumes: (ctx, at, v, s) => {
    if (!Array.isArray(v)) return;
    const name = String(at[1]);
    let anon = 0;
    const vols = v.flatMap((x, i) => {
      const m = mount(ctx, [...at, i], x);
      if (m && m.source === undefined && m.type !== "tmpfs") {
        m.source = `${name}-anon-${++anon}`.replace(/[^a-zA-Z0-9_.-]/g, "-");
        warn(
          ctx,
          [...at, i],
          `anonymous volume at ${String(m.target)} becomes the named volume "${String(m.source)}", kept with the env`,
        );
      }
      return m ? [m] : [];
    });
    if (vols.length) s.volumes = vols;
  },
  ulimits: (_ctx, _at, v, s) => {
    if (!isObj(v)) return;
    s.ulimits = Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, isObj(x) && "single" in x ? x.single : x]),
    );
  },
  healthcheck: (ctx, at, v, s) => {
    const h = health(ctx, at, v);
    if (h) s.health = h;
  },
  depends_on: (_ctx, _at, v, s) => {
    if (!isObj(v)) return;
    s.depends_on = Object.fromEntries(
      Object.entries(v).map(([d, o]) => [
        d,
        isObj(o)
          ? {
              ...(typeof o.condition === "string" ? { condition: o.condition } : {}),
              ...(o.required === false ? { required: false } : {}),
            }
          : {},
      ]),
    );
  },
};

/** A scalar Compose printed, as text (numbers as digits). */
const text = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

const pick = (o: Obj, keys: string[]): Obj =>
  Object.fromEntries(keys.filter((k) => o[k] !== undefined && o[k] !== null).map((k) => [k, o[k]]));

/** Compose prints byte sizes as strings of digits ("67108864"). */
function bytes(v: unknown): unknown {
  return typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
}

function words(ctx: Ctx, at: PropertyKey[], v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  if (v.length === 0) {
    warn(ctx, at, "an empty list keeps the image's own (envctl cannot clear it)");
    return undefined;
  }
  return v.map(String);
}

const BUILD_IGNORED: Record<string, string> = {
  cache_from: "envctl's builds use the engine's local cache",
  cache_to: "envctl's builds use the engine's local cache",
  labels: "envctl labels the images it builds itself",
  tags: "the image is tagged envctl/ENV-SERVICE (and with `image` when set)",
  pull: "base images are pulled only when missing",
  no_cache: "envctl rebuilds when the context changes",
  ssh: "SSH forwarding needs BuildKit, which envctl's builds do not use",
  secrets: "build secrets need BuildKit, which envctl's builds do not use",
  platforms: "envctl builds for the engine's platform",
  entitlements: "BuildKit entitlements are not used",
  privileged: "BuildKit entitlements are not used",
  extra_hosts: "not passed to the builder",
  isolation: "a Windows build option",
  network: "builds use the engine's default network",
  shm_size: "not passed to the builder",
  ulimits: "not passed to the builder",
  provenance: "BuildKit attestations are not made",
  sbom: "BuildKit attestations are not made",
};

const REMOTE_CONTEXT_RE = /^[a-z][a-z0-9+.-]*:\/\/|^git@/i;

function build(ctx: Ctx, at: PropertyKey[], v: unknown): Obj | undefined {
  if (!isObj(v)) return undefined;
  const b: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || k.startsWith("x-")) continue;
    if (k === "context") {
      if (typeof x === "string" && REMOTE_CONTEXT_RE.test(x)) {
        fail(ctx, [...at, k], "remote build contexts are not supported; clone it and use a path");
      }
      b.context = x;
    } else if (k === "dockerfile" || k === "dockerfile_inline" || k === "target") b[k] = x;
    else if (k === "args") {
      if (isObj(x)) {
        const args = Object.fromEntries(Object.entries(x).filter(([, a]) => a !== null));
        if (Object.keys(args).length) b.args = args;
      }
    } else if (k === "additional_contexts") {
      if (isObj(x) && Object.keys(x).length) b.additional_contexts = x;
    } else if (BUILD_IGNORED[k]) {
      warn(ctx, [...at, k], `"${k}" is ignored: ${BUILD_IGNORED[k]}`);
    } else fail(ctx, [...at, k], "not supported by envctl");
  }
  b.context ??= ".";
  return b;
}

/** A long-syntax port from Compose -> an envctl port with its offset (undefined: pick later). */
function port(ctx: Ctx, at: PropertyKey[], p: unknown): Obj[] {
  if (!isObj(p)) return [];
  const protocol = typeof p.protocol === "string" ? p.protocol : "tcp";
  if (protocol !== "tcp" && protocol !== "udp") {
    fail(ctx, [...at, "protocol"], `"${protocol}" is not supported (tcp or udp)`);
    return [];
  }
  if (p.mode === "host")
    warn(ctx, [...at, "mode"], '"mode: host" is a swarm setting; the port is published as usual');
  const out: Obj = { container: Number(p.target), protocol };
  const ip = typeof p.host_ip === "string" ? p.host_ip.replace(/^\[|\]$/g, "") : undefined;
  // "::" is every IPv6 address only, unlike no address (every address of both families).
  if (ip && ip !== "0.0.0.0") out.host_ip = ip;
  if (p.published !== undefined && p.published !== "") {
    const published = text(p.published);
    const m = /^(\d+)(?:-(\d+))?$/.exec(published);
    if (!m) {
      fail(ctx, [...at, "published"], `must be a port or a range, got "${published}"`);
      return [];
    }
    // A range for one container port: Compose takes the first free; envctl the first.
    const wanted = Number(m[1]) % 1000;
    const offset = freeOffset(ctx, wanted, protocol);
    if (offset === undefined) return [];
    if (offset !== wanted) {
      warn(
        ctx,
        at,
        `host port ${m[1]} would land on offset ${wanted}, which another port has; it gets offset ${offset}`,
      );
    }
    out.offset = offset;
  }
  return [out];
}

function mount(ctx: Ctx, at: PropertyKey[], v: unknown): Obj | undefined {
  if (!isObj(v)) return undefined;
  const type = v.type;
  const target = v.target;
  if (type === "tmpfs") {
    const t = isObj(v.tmpfs) ? v.tmpfs : {};
    const tmpfs = pick({ size: bytes(t.size), mode: t.mode }, ["size", "mode"]);
    return {
      type: "tmpfs",
      target,
      ...(v.read_only ? { read_only: true } : {}),
      ...(Object.keys(tmpfs).length ? { tmpfs } : {}),
    };
  }
  if (type !== "volume" && type !== "bind") {
    fail(
      ctx,
      [...at, "type"],
      `"${String(type)}" mounts are not supported (volume, bind or tmpfs)`,
    );
    return undefined;
  }
  const m: Obj = { type, target };
  if (typeof v.source === "string" && v.source) m.source = v.source;
  if (v.read_only) m.read_only = true;
  if (type === "bind" && typeof m.source === "string" && !/^[./]/.test(m.source))
    m.source = `./${m.source}`;
  if (isObj(v.volume)) {
    if (v.volume.nocopy) m.nocopy = true;
    if (v.volume.subpath)
      fail(
        ctx,
        [...at, "volume", "subpath"],
        "volume subpaths need Docker 26 or later, which envctl does not require",
      );
  }
  if (isObj(v.bind)) {
    for (const k of Object.keys(v.bind)) {
      if (k !== "create_host_path")
        warn(ctx, [...at, "bind", k], `"${k}" is ignored for bind mounts`);
    }
  }
  if (typeof v.consistency === "string")
    warn(ctx, [...at, "consistency"], '"consistency" is ignored (a Docker Desktop setting)');
  return m;
}

/** Docker's timings when a check does not give them (what Compose leaves to the engine). */
const DOCKER_HEALTH_DEFAULTS = {
  interval: "30s",
  timeout: "30s",
  retries: 3,
  start_period: "0s",
  start_interval: "5s",
};

function health(ctx: Ctx, at: PropertyKey[], v: unknown): Obj | undefined {
  if (!isObj(v)) return undefined;
  if (v.disable === true) return { test: ["NONE"] };
  const test = v.test;
  if (!Array.isArray(test) || test.length === 0) {
    warn(
      ctx,
      at,
      "timings without a test are ignored: the image's own HEALTHCHECK runs with its timings",
    );
    return undefined;
  }
  if (test[0] === "NONE") return { test: ["NONE"] };
  const h: Obj = { test: test.map(String) };
  for (const k of ["interval", "timeout", "start_period", "start_interval"] as const) {
    const d = duration(v[k] ?? DOCKER_HEALTH_DEFAULTS[k]);
    if (d === undefined)
      fail(ctx, [...at, k], `must be a duration like "5s", got ${JSON.stringify(v[k])}`);
    else h[k] = d;
  }
  h.retries =
    typeof v.retries === "number" && v.retries >= 1 ? v.retries : DOCKER_HEALTH_DEFAULTS.retries;
  return h;
}

const ENVCTL_DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

/** A Go duration as envctl reads it: `"1m30s"` stays, `"1500us"` becomes `"1.5ms"`. */
export function duration(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  if (v === "0") return "0s";
  if (ENVCTL_DURATION_RE.test(v)) return v;
  const ns = goDurationNs(v);
  return ns === undefined ? undefined : `${Number((ns / 1e6).toFixed(6))}ms`;
}

function deploy(ctx: Ctx, at: PropertyKey[], svc: Obj, s: Obj, docker: Obj): void {
  if (typeof svc.scale === "number") s.replicas = svc.scale;
  const d = svc.deploy;
  if (!isObj(d)) return;
  const dat = [...at, "deploy"];
  for (const [k, x] of Object.entries(d)) {
    if (x === null) continue;
    if (k === "replicas" && typeof x === "number") s.replicas = x;
    else if (k === "mode" && x === "global")
      warn(ctx, [...dat, k], '"global" runs one container (one node)');
    else if (k === "resources" && isObj(x)) resources(ctx, [...dat, k], x, docker);
    else if (k === "restart_policy" && isObj(x)) {
      const cond =
        x.condition === "none" ? "no" : x.condition === "on-failure" ? "on-failure" : "always";
      docker.restart =
        cond === "on-failure" && typeof x.max_attempts === "number"
          ? `on-failure:${x.max_attempts}`
          : cond;
      for (const k2 of ["delay", "window"])
        if (x[k2] !== undefined)
          warn(
            ctx,
            [...dat, k, k2],
            `"${k2}" is ignored: Docker's restart policy has no such setting`,
          );
    } else if (k === "placement" && isObj(x) && Object.keys(x).length === 0) continue;
    else if (k !== "mode" && k !== "replicas")
      warn(ctx, [...dat, k], `"${k}" is ignored: a swarm setting`);
  }
}

function resources(ctx: Ctx, at: PropertyKey[], r: Obj, docker: Obj): void {
  const limits = isObj(r.limits) ? r.limits : {};
  const reservations = isObj(r.reservations) ? r.reservations : {};
  if (limits.memory !== undefined) docker.mem_limit = bytes(limits.memory);
  if (limits.cpus !== undefined) docker.cpus = Number(limits.cpus);
  if (limits.pids !== undefined) docker.pids_limit = Number(limits.pids);
  if (reservations.memory !== undefined) docker.mem_reservation = bytes(reservations.memory);
  if (reservations.cpus !== undefined)
    warn(ctx, [...at, "reservations", "cpus"], "CPU reservations are a swarm setting");
  if (reservations.devices !== undefined)
    warn(ctx, [...at, "reservations", "devices"], "device (GPU) reservations are not passed on");
  if (reservations.generic_resources !== undefined)
    warn(ctx, [...at, "reservations", "generic_resources"], "a swarm setting");
}

/** What Compose lets a secret or a config be read from (only configs may be given by value). */
const SOURCES = {
  secrets: "a file or environment source",
  configs: "a file, content or environment source",
};

/**
 * `secrets` and `configs`: a file source is bind-mounted read-only at the target (as Compose
 * does), one given by value (`content`) or by an environment variable is written into the
 * container before it starts.
 */
function files(ctx: Ctx, at: PropertyKey[], svc: Obj, s: Obj): void {
  const mounts: Obj[] = [];
  const written: Obj[] = [];
  for (const kind of ["secrets", "configs"] as const) {
    const refs = svc[kind];
    if (!Array.isArray(refs)) continue;
    refs.forEach((ref, i) => {
      if (!isObj(ref) || typeof ref.source !== "string") return;
      const rat = [...at, kind, i];
      const decl = ctx.project[kind]?.[ref.source];
      if (!decl) return fail(ctx, rat, `${kind.slice(0, -1)} "${ref.source}" is not declared`);
      const given = typeof ref.target === "string" && ref.target ? ref.target : ref.source;
      const target = given.startsWith("/")
        ? given
        : kind === "secrets"
          ? `/run/secrets/${given}`
          : `/${given}`;
      if (typeof decl.file === "string") {
        mounts.push({ type: "bind", source: decl.file, target, read_only: true });
        return;
      }
      let content: string | undefined;
      if (typeof decl.content === "string") content = decl.content;
      else if (typeof decl.environment === "string") {
        content = ctx.env[decl.environment];
        if (content === undefined)
          return fail(
            ctx,
            rat,
            `${kind.slice(0, -1)} "${ref.source}" reads $${decl.environment}, which is not set`,
          );
      } else if (decl.external) {
        return fail(
          ctx,
          rat,
          `external ${kind} live in a swarm; give "${ref.source}" ${SOURCES[kind]}`,
        );
      } else
        return fail(
          ctx,
          rat,
          `${kind.slice(0, -1)} "${ref.source}" has no source: give it ${SOURCES[kind]}`,
        );
      const mode =
        typeof ref.mode === "string"
          ? parseInt(ref.mode, 8)
          : typeof ref.mode === "number"
            ? ref.mode
            : undefined;
      written.push({
        target,
        content,
        ...(mode !== undefined && !Number.isNaN(mode) ? { mode } : {}),
        ...(ref.uid !== undefined ? { uid: text(ref.uid) } : {}),
        ...(ref.gid !== undefined ? { gid: text(ref.gid) } : {}),
      });
    });
  }
  if (mounts.length) s.volumes = [...((s.volumes as Obj[] | undefined) ?? []), ...mounts];
  if (written.length) s.files = written;
}
