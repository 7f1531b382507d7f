/**
 * One service of Compose's normalized project -> what envctl's model must hold for it
 * (compose-oracle.ts compares). Written from the compose spec and Docker's behaviour: sizes are
 * bytes, health timings Docker's defaults (30s, 30s, 3, 0s, start interval 5s), a `depends_on`
 * written as a list means service_started, secret targets live under /run/secrets.
 */
import type {
  ContainerFile,
  ContainerService,
  DockerOptions,
  VolumeMount,
} from "../../lib/spec/model";
import { goMs, isObj, type Project } from "./compose-oracle";

type Obj = Record<string, unknown>;

export interface ExpectedPort {
  container: number;
  protocol: string;
  hostIp?: string;
  /** The first published host port, when there is one. */
  published?: number;
}

export interface Expected {
  compose: Obj;
  model: Omit<ContainerService, "name" | "type" | "ports" | "cold">;
  ports: ExpectedPort[];
  /** Indexes into model.volumes of volumes Compose left unnamed. */
  anonymous: number[];
  declaredVolumes: Set<string>;
  /** Dot-paths a warning must name. */
  warnings: string[];
}

/** Keys envctl ignores on purpose; each must be a warning at its dot-path. */
const IGNORED = [
  "container_name",
  "logging",
  "develop",
  "pull_policy",
  "attach",
  "annotations",
  "external_links",
  "credential_spec",
  "cpu_count",
  "cpu_percent",
  "cpu_rt_runtime",
  "cpu_rt_period",
  "blkio_config",
  "gpus",
  "use_api_socket",
  "models",
];
/** Runtime options that reach docker: as Compose prints them. */
const AS_IS = [
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
  "volumes_from",
];
/** Numbers Compose prints as strings: sizes in bytes, and mem_swappiness. */
const NUMERIC = ["shm_size", "mem_limit", "mem_reservation", "memswap_limit", "mem_swappiness"];
/** Keys read with others or already applied by Compose. */
const ELSEWHERE = ["profiles", "scale"];
const BUILD_IGNORED = [
  "cache_from",
  "cache_to",
  "labels",
  "tags",
  "pull",
  "no_cache",
  "ssh",
  "secrets",
  "platforms",
  "entitlements",
  "privileged",
  "extra_hosts",
  "isolation",
  "network",
  "shm_size",
  "ulimits",
  "provenance",
  "sbom",
];
const CONDITION: Record<string, "started" | "healthy" | "completed"> = {
  service_started: "started",
  service_healthy: "healthy",
  service_completed_successfully: "completed",
};

export function expectService(
  name: string,
  c: Obj,
  project: Project,
  env: NodeJS.ProcessEnv,
): Expected {
  const at = `services.${name}`;
  const warnings: string[] = [];
  const docker: DockerOptions & Obj = {};
  const model: Expected["model"] = { env: {}, dependsOn: [], volumes: [] };
  const e: Expected = {
    compose: c,
    model,
    ports: [],
    anonymous: [],
    declaredVolumes: new Set(Object.keys(project.volumes ?? {})),
    warnings,
  };

  for (const [key, v] of Object.entries(c)) {
    if (v === null || key.startsWith("x-")) continue;
    if (IGNORED.includes(key)) warnings.push(`${at}.${key}`);
    else if (AS_IS.includes(key)) docker[key] = v;
    else if (NUMERIC.includes(key)) docker[key] = Number(v);
    else if (!(key in READ) && !ELSEWHERE.includes(key))
      throw new Error(`Compose prints ${at}.${key}, which the oracle does not compare`);
  }
  for (const [key, read] of Object.entries(READ))
    if (c[key] !== undefined && c[key] !== null)
      read({ name, at, c, v: c[key], project, env, e, docker });
  if (typeof c.scale === "number" && model.replicas === undefined) model.replicas = c.scale;
  if (model.replicas === 1) delete model.replicas;
  const mode = docker.network_mode;
  if ((mode !== undefined && mode !== "bridge") || (model.replicas ?? 1) > 1) {
    if (e.ports.length) warnings.push(`${at}.ports`);
    e.ports = [];
  }
  if (Object.keys(docker).length) model.docker = docker;
  return e;
}

interface Read {
  name: string;
  at: string;
  c: Obj;
  v: unknown;
  project: Project;
  env: NodeJS.ProcessEnv;
  e: Expected;
  docker: Obj;
}

/** A scalar Compose printed, as text (numbers as digits). */
const text = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

const strings = (m: unknown): Record<string, string> =>
  Object.fromEntries(
    Object.entries(isObj(m) ? m : {})
      .filter(([, x]) => x !== null)
      .map(([k, x]) => [k, String(x)]),
  );

const READ: Record<string, (r: Read) => void> = {
  image: ({ v, e }) => {
    e.model.image = v as string;
    if (e.model.build) e.model.build.tag = v as string;
  },
  build: ({ v, at, c, e }) => {
    const b = v as Obj;
    e.model.build = {
      context: b.context as string,
      dockerfile: (b.dockerfile as string | undefined) ?? "Dockerfile",
      args: strings(b.args),
      ...(b.target !== undefined ? { target: b.target as string } : {}),
      ...(b.dockerfile_inline !== undefined
        ? { dockerfileInline: b.dockerfile_inline as string }
        : {}),
      ...(isObj(b.additional_contexts) && Object.keys(b.additional_contexts).length
        ? { additionalContexts: strings(b.additional_contexts) }
        : {}),
      ...(typeof c.image === "string" ? { tag: c.image } : {}),
    };
    for (const k of Object.keys(b)) {
      if (BUILD_IGNORED.includes(k)) e.warnings.push(`${at}.build.${k}`);
      else if (
        ![
          "context",
          "dockerfile",
          "dockerfile_inline",
          "target",
          "args",
          "additional_contexts",
        ].includes(k)
      ) {
        throw new Error(`Compose prints ${at}.build.${k}, which the oracle does not compare`);
      }
    }
  },
  command: ({ v, at, e }) => words(v, `${at}.command`, e, (w) => (e.model.command = w)),
  entrypoint: ({ v, at, e }) => words(v, `${at}.entrypoint`, e, (w) => (e.model.entrypoint = w)),
  environment: ({ v, e }) => {
    e.model.env = strings(v);
  },
  labels: ({ v, e }) => {
    if (Object.keys(strings(v)).length) e.model.labels = strings(v);
  },
  ulimits: ({ v, e }) => {
    e.model.ulimits = Object.fromEntries(
      Object.entries(v as Obj).map(([k, x]) => [
        k,
        isObj(x)
          ? { soft: x.soft as number, hard: x.hard as number }
          : { soft: x as number, hard: x as number },
      ]),
    );
  },
  ports: ({ v, at, e }) => {
    (v as Obj[]).forEach((p, i) => {
      const ip = p.host_ip as string | undefined;
      const published =
        p.published !== undefined && p.published !== ""
          ? Number(/^\d+/.exec(text(p.published))![0])
          : undefined;
      e.ports.push({
        container: p.target as number,
        protocol: (p.protocol as string | undefined) ?? "tcp",
        ...(ip !== undefined && ip !== "0.0.0.0" ? { hostIp: ip.replace(/^\[|\]$/g, "") } : {}),
        ...(published !== undefined ? { published } : {}),
      });
      if (p.mode === "host") e.warnings.push(`${at}.ports[${i}].mode`);
    });
  },
  volumes: ({ v, at, e }) => {
    (v as Obj[]).forEach((m, i) => e.model.volumes.push(mount(m, `${at}.volumes[${i}]`, e, i)));
  },
  healthcheck: ({ v, at, e, docker }) => {
    const h = v as Obj;
    const test = h.test as string[] | undefined;
    if (h.disable === true || test?.[0] === "NONE") {
      docker.no_healthcheck = true;
      return;
    }
    if (!test) {
      e.warnings.push(`${at}.healthcheck`);
      return;
    }
    const ms = (k: string, d: string): number => goMs((h[k] as string | undefined) ?? d);
    e.model.health = {
      kind: "command",
      command: test[0] === "CMD-SHELL" ? test.slice(1).join(" ") : "(derived)",
      test,
      intervalMs: ms("interval", "30s"),
      timeoutMs: ms("timeout", "30s"),
      retries: typeof h.retries === "number" && h.retries >= 1 ? h.retries : 3,
      startPeriodMs: ms("start_period", "0s"),
      startIntervalMs: ms("start_interval", "5s"),
    };
  },
  depends_on: ({ v, project, e }) => {
    const conditions: Record<string, "started" | "completed"> = {};
    for (const [dep, o] of Object.entries(v as Record<string, Obj>)) {
      if (!(dep in project.services)) continue; // required: false on a service not in the project
      e.model.dependsOn.push(dep);
      const cond = CONDITION[o.condition as string]!;
      if (cond !== "healthy") conditions[dep] = cond;
    }
    if (Object.keys(conditions).length) e.model.conditions = conditions;
  },
  deploy: ({ v, at, e, docker }) => {
    for (const [k, x] of Object.entries(v as Obj)) {
      const r = x as Obj;
      if (k === "replicas") e.model.replicas = x as number;
      else if (k === "resources") {
        const limits = isObj(r.limits) ? r.limits : {};
        const reservations = isObj(r.reservations) ? r.reservations : {};
        if (limits.memory !== undefined) docker.mem_limit = Number(limits.memory);
        if (limits.cpus !== undefined) docker.cpus = Number(limits.cpus);
        if (limits.pids !== undefined) docker.pids_limit = Number(limits.pids);
        if (reservations.memory !== undefined) docker.mem_reservation = Number(reservations.memory);
        for (const rk of Object.keys(limits))
          if (!["memory", "cpus", "pids"].includes(rk))
            e.warnings.push(`${at}.deploy.resources.limits.${rk}`);
        for (const rk of Object.keys(reservations))
          if (rk !== "memory") e.warnings.push(`${at}.deploy.resources.reservations.${rk}`);
      } else if (k === "restart_policy") {
        const cond =
          r.condition === "none" ? "no" : r.condition === "on-failure" ? "on-failure" : "always";
        docker.restart =
          cond === "on-failure" && r.max_attempts !== undefined
            ? `on-failure:${text(r.max_attempts)}`
            : cond;
        for (const rk of ["delay", "window"])
          if (r[rk] !== undefined) e.warnings.push(`${at}.deploy.restart_policy.${rk}`);
      } else if (k === "placement" && isObj(x) && Object.keys(x).length === 0) continue;
      else if (k === "mode" && x === "replicated") continue;
      else e.warnings.push(`${at}.deploy.${k}`);
    }
  },
  devices: ({ v, docker }) => {
    docker.devices = (v as Obj[]).map(
      (d) => `${String(d.source)}:${String(d.target)}:${String(d.permissions)}`,
    );
  },
  networks: ({ v, at, docker }) => {
    docker.networks = Object.fromEntries(
      Object.entries(v as Obj).map(([n, o]) => {
        const opts = isObj(o) ? o : {};
        for (const k of Object.keys(opts)) {
          if (!["aliases", "ipv4_address", "ipv6_address", "priority"].includes(k))
            throw new Error(`${at}.networks.${n}.${k} is not compared`);
        }
        return [n, opts];
      }),
    );
  },
  secrets: (r) => files(r, "secrets"),
  configs: (r) => files(r, "configs"),
};

function words(v: unknown, at: string, e: Expected, set: (w: string[]) => void): void {
  const w = v as string[];
  if (w.length === 0) e.warnings.push(at);
  else set(w);
}

function mount(m: Obj, at: string, e: Expected, i: number): VolumeMount {
  const readOnly = m.read_only === true;
  if (m.type === "tmpfs") {
    const t = isObj(m.tmpfs) ? m.tmpfs : {};
    return {
      source: "",
      target: m.target as string,
      kind: "tmpfs",
      readOnly,
      ...(t.size !== undefined ? { tmpfsSize: Number(t.size) } : {}),
      ...(t.mode !== undefined ? { tmpfsMode: t.mode as number } : {}),
    };
  }
  if (m.type !== "volume" && m.type !== "bind")
    throw new Error(`${at}: a ${String(m.type)} mount is an error case`);
  for (const k of Object.keys(isObj(m.bind) ? m.bind : {}))
    if (k !== "create_host_path") e.warnings.push(`${at}.bind.${k}`);
  if (m.consistency !== undefined) e.warnings.push(`${at}.consistency`);
  const vol = isObj(m.volume) ? m.volume : {};
  if (m.type === "volume" && !m.source) {
    e.anonymous.push(i);
    e.warnings.push(at);
  }
  return {
    source: m.type === "volume" && !m.source ? "(anonymous)" : (m.source as string),
    target: m.target as string,
    kind: m.type,
    readOnly,
    ...(vol.nocopy === true ? { noCopy: true } : {}),
  };
}

/**
 * File sources are bound read-only at the target (after the service's own volumes, secrets'
 * before configs'); contents and variables are written in.
 */
function files({ v, project, env, e }: Read, kind: "secrets" | "configs"): void {
  for (const ref of v as Obj[]) {
    const decl = project[kind]![ref.source as string]!;
    const given = (ref.target as string | undefined) || (ref.source as string);
    const target = given.startsWith("/")
      ? given
      : kind === "secrets"
        ? `/run/secrets/${given}`
        : `/${given}`;
    if (typeof decl.file === "string") {
      e.model.volumes.push({ source: decl.file, target, kind: "bind", readOnly: true });
      continue;
    }
    const content =
      typeof decl.content === "string" ? decl.content : env[decl.environment as string]!;
    const file: ContainerFile = {
      target,
      content,
      ...(ref.mode !== undefined ? { mode: parseInt(text(ref.mode), 8) } : {}),
      ...(ref.uid !== undefined ? { uid: text(ref.uid) } : {}),
      ...(ref.gid !== undefined ? { gid: text(ref.gid) } : {}),
    };
    (e.model.files ??= []).push(file);
  }
}
