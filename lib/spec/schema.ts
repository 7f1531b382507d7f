/**
 * zod schema for the user-facing `envctl.yaml`. It checks shape and value ranges and parses
 * scalar notations (port strings, durations, volume strings); defaults and path resolution
 * happen in `load.ts`, which knows where the file lives.
 *
 * Every check that can fail carries its own message; `zodIssues` below turns zod issues into
 * `path: message` lines and only invents messages for type mismatches and unknown keys.
 */
import { z } from "zod";
import { quote } from "../core/display";
import { dotPath, valueAt } from "../core/dot-path";
import { GO_DURATION_RE } from "../core/duration";
import { duration } from "./fields";
import { hivesyncSchema } from "./hivesync-schema";
import { LOG_LEVELS, type SpecIssue } from "./model";

export { durationMs } from "./fields";

/** Service names Compose allows, up to 63 characters (they end container names and DNS labels). */
export const SERVICE_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
/** Init step names: lowercase, as they name log files and rows of `status`. */
export const STEP_NAME_RE = /^[a-z][a-z0-9-]{0,30}$/;
export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const PORT_RANGE = "must be 1..65535";
const portInt = z.number().int("must be a whole number").min(1, PORT_RANGE).max(65535, PORT_RANGE);

/** A container port: `5432` or `"5432"`. */
export const portNumber = z.union(
  [
    portInt,
    z
      .string()
      .refine((s) => !/^\d+:\d+/.test(s), {
        message:
          "must be a container port; host ports come from the env's port block (use { container, offset } to pick the offset)",
        abort: true,
      })
      .regex(/^\d+$/, {
        error: (iss) => `must be a port number (1..65535), got ${quote(String(iss.input))}`,
      })
      .transform(Number)
      .pipe(portInt),
  ],
  { error: "must be a port number (1..65535)" },
);

const scalar = z.union([z.string(), z.number(), z.boolean()], {
  error: "must be a string, number or boolean",
});

/**
 * Variable names as Docker and the host pass them: `NAME=value` strings, so "=" would move the
 * split, and NUL ends the string.
 */
const varName = z
  .string()
  .min(1, "names must not be empty")
  .regex(/^[^=]*$/, 'must not contain "="')
  .regex(/^[^\0]*$/, "must not contain NUL characters");
const scalarMap = z.record(varName, scalar);

const commandLike = z.union(
  [z.string().min(1, "must not be empty"), z.array(z.string()).min(1, "must not be empty")],
  { error: "must be a string or a list of strings" },
);

const buildObject = z.strictObject({
  context: z.string().min(1, "must not be empty"),
  dockerfile: z.string().min(1, "must not be empty").optional(),
  dockerfile_inline: z.string().min(1, "must not be empty").optional(),
  args: scalarMap.optional(),
  target: z.string().min(1, "must not be empty").optional(),
  additional_contexts: z
    .record(z.string().min(1), z.string().min(1, "must not be empty"))
    .optional(),
});

const buildSchema = z.union([z.string().min(1, "must not be empty"), buildObject], {
  error: "must be a directory or a mapping with context, dockerfile and args",
});

/**
 * `container` is the port inside a container, mapped from the host port; `port` names a
 * process's port (processes are not port-mapped: they listen on the host port itself).
 */
const portObject = z
  .strictObject({
    container: portNumber.optional(),
    port: portNumber.optional(),
    offset: z
      .number()
      .int("must be a whole number")
      .min(0, "must be 0..999")
      .max(999, "must be 0..999")
      .optional(),
    protocol: z.enum(["tcp", "udp"]).optional(),
    host_ip: z
      .string()
      .regex(/^[0-9a-fA-F.:]+$/, "must be an IP address like 127.0.0.1 or ::1")
      .optional(),
    /** A process's port used as is on the host, in every env (no block). */
    fixed: z.boolean().optional(),
  })
  .superRefine((p, ctx) => {
    if (p.fixed && p.offset !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["offset"],
        message: "a fixed port is not in the block, so it has no offset",
      });
    }
    if (p.container === undefined && p.port === undefined) {
      ctx.addIssue({
        code: "custom",
        message: 'must set "container" (a container\'s port) or "port" (a process\'s)',
      });
    } else if (p.container !== undefined && p.port !== undefined) {
      ctx.addIssue({ code: "custom", message: 'set either "container" or "port", not both' });
    }
  });

const portSchema = z.union([portNumber, portObject], {
  error: "must be a port number or a mapping with container, offset and protocol",
});

/** A bind source starts with "/" or "."; anything else names a volume. */
export function isBindSource(source: string): boolean {
  return source.startsWith("/") || source.startsWith(".");
}

interface RawVolume {
  source: string;
  target: string;
  read_only?: boolean;
  type?: "volume" | "bind" | "tmpfs";
  nocopy?: boolean;
  tmpfs?: { size?: number; mode?: number };
}

function volumeProblems(v: RawVolume): { field: "source" | "target"; message: string }[] {
  const out: { field: "source" | "target"; message: string }[] = [];
  if (v.type === "tmpfs") {
    if (!v.target.startsWith("/"))
      out.push({ field: "target", message: `target ${quote(v.target)} must be an absolute path` });
    return out;
  }
  if (v.type === "bind" && !isBindSource(v.source)) {
    out.push({ field: "source", message: 'a bind source must be a path starting with "/" or "."' });
  } else if (!isBindSource(v.source) && !VOLUME_NAME_RE.test(v.source)) {
    out.push({
      field: "source",
      message: `volume name ${quote(v.source)} must match ${VOLUME_NAME_RE.source} (bind paths start with "/" or ".")`,
    });
  }
  if (!v.target.startsWith("/")) {
    out.push({ field: "target", message: `target ${quote(v.target)} must be an absolute path` });
  }
  return out;
}

const VOLUME_STRING_MSG = 'must be "source:target" or "source:target:ro"';

const volumeString = z.string().transform((text, ctx): RawVolume => {
  const parts = text.split(":");
  const [source = "", target = "", mode] = parts;
  if (
    parts.length < 2 ||
    parts.length > 3 ||
    !source ||
    !target ||
    (mode !== undefined && mode !== "ro" && mode !== "rw")
  ) {
    ctx.addIssue({ code: "custom", message: `${VOLUME_STRING_MSG}, got ${quote(text)}` });
    return z.NEVER;
  }
  const v: RawVolume = { source, target, read_only: mode === "ro" };
  for (const p of volumeProblems(v)) ctx.addIssue({ code: "custom", message: p.message });
  return v;
});

const volumeObject = z
  .strictObject({
    type: z.enum(["volume", "bind", "tmpfs"]).optional(),
    source: z.string().min(1, "must not be empty").default(""),
    target: z.string().min(1, "must not be empty"),
    read_only: z.boolean().optional(),
    nocopy: z.boolean().optional(),
    tmpfs: z
      .strictObject({
        size: z.number().int("must be a whole number").nonnegative().optional(),
        mode: z.number().int("must be a whole number").nonnegative().optional(),
      })
      .optional(),
  })
  .superRefine((v, ctx) => {
    if (v.type !== "tmpfs" && !v.source)
      ctx.addIssue({ code: "custom", path: ["source"], message: "required" });
  })
  .superRefine((v, ctx) => {
    for (const p of volumeProblems(v))
      ctx.addIssue({ code: "custom", path: [p.field], message: p.message });
  });

const volumeSchema = z.union([volumeString, volumeObject], {
  error: `${VOLUME_STRING_MSG} or a mapping with source, target and read_only`,
});

const HEALTH_KINDS = ["command", "http", "tcp"] as const;
const HEALTH_SET_MSG = 'must set one of "command", "test", "http" or "tcp"';

const healthSchema = z
  .strictObject({
    command: z.string().min(1, "must not be empty").optional(),
    test: z
      .array(z.string())
      .refine(
        (t) =>
          (t[0] === "NONE" && t.length === 1) ||
          ((t[0] === "CMD" || t[0] === "CMD-SHELL") && t.length > 1 && t.slice(1).join("") !== ""),
        { message: 'must be ["CMD", program, args...], ["CMD-SHELL", command] or ["NONE"]' },
      )
      .optional(),
    http: z.string().startsWith("/", 'must be a path starting with "/"').optional(),
    tcp: portNumber.optional(),
    port: portNumber.optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    retries: z.number().int("must be a whole number").min(1, "must be at least 1").optional(),
    start_period: duration.optional(),
    start_interval: duration.optional(),
  })
  .superRefine((h, ctx) => {
    const set = HEALTH_KINDS.filter((k) => h[k] !== undefined);
    if (h.test !== undefined) set.push("test" as (typeof HEALTH_KINDS)[number]);
    if (set.length === 0) {
      ctx.addIssue({ code: "custom", message: HEALTH_SET_MSG });
    } else if (set.length > 1) {
      const names = set.map((k) => `"${k}"`).join(" and ");
      ctx.addIssue({
        code: "custom",
        message: `must set only one of "command", "test", "http" or "tcp", got ${names}`,
      });
    }
    if (h.port !== undefined && h.http === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["port"],
        message: '"port" is only allowed with "http"',
      });
    }
  });

const dependencyObject = z.strictObject({
  condition: z
    .enum(["service_started", "service_healthy", "service_completed_successfully"])
    .optional(),
  /** false: ignored when the service is not part of the env (another profile's). */
  required: z.boolean().optional(),
  /** Compose restarts a dependent when this dependency is updated; envctl recreates it anyway. */
  restart: z.boolean().optional(),
});

const dependsOnSchema = z.union(
  [z.array(z.string()), z.record(z.string(), dependencyObject.nullable())],
  { error: "must be a list of service names or a mapping of name to { condition }" },
);

const ulimitValue = z.union(
  [
    z.number().int("must be a whole number").min(-1, "must be -1 (unlimited) or more"),
    z.strictObject({
      soft: z.number().int("must be a whole number").min(-1, "must be -1 (unlimited) or more"),
      hard: z.number().int("must be a whole number").min(-1, "must be -1 (unlimited) or more"),
    }),
  ],
  { error: "must be a number or a mapping with soft and hard" },
);

const strList = z.array(z.string());
const strMap = z.record(z.string(), z.string());
const wholeNumber = z.number().int("must be a whole number");
const hookSchema = z.strictObject({
  command: z.array(z.string()).min(1, "must not be empty"),
  user: z.string().optional(),
  privileged: z.boolean().optional(),
  working_dir: z.string().optional(),
  environment: strMap.optional(),
});

/** Container runtime options, as Compose names them (model.ts DockerOptions). */
export const dockerOptionsSchema = z.strictObject({
  init: z.boolean().optional(),
  user: z.string().optional(),
  working_dir: z.string().optional(),
  hostname: z.string().optional(),
  domainname: z.string().optional(),
  mac_address: z.string().optional(),
  restart: z
    .string()
    .regex(/^(no|always|unless-stopped|on-failure(:\d+)?)$/, {
      message: 'must be "no", "always", "on-failure[:N]" or "unless-stopped"',
    })
    .optional(),
  stop_signal: z
    .string()
    .regex(/^(SIG)?[A-Z0-9+-]+$|^\d+$/, "must be a signal like SIGTERM")
    .optional(),
  stop_grace_period: z.string().regex(GO_DURATION_RE, 'must be a duration like "10s"').optional(),
  platform: z
    .string()
    .regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, 'must be like "linux/amd64"')
    .optional(),
  tmpfs: strList.optional(),
  extra_hosts: strList.optional(),
  cap_add: strList.optional(),
  cap_drop: strList.optional(),
  privileged: z.boolean().optional(),
  shm_size: wholeNumber.nonnegative().optional(),
  tty: z.boolean().optional(),
  stdin_open: z.boolean().optional(),
  devices: strList.optional(),
  device_cgroup_rules: strList.optional(),
  dns: strList.optional(),
  dns_search: strList.optional(),
  dns_opt: strList.optional(),
  security_opt: strList.optional(),
  read_only: z.boolean().optional(),
  pid: z.string().optional(),
  ipc: z.string().optional(),
  uts: z.string().optional(),
  userns_mode: z.string().optional(),
  cgroup: z.string().optional(),
  cgroup_parent: z.string().optional(),
  runtime: z.string().optional(),
  isolation: z.string().optional(),
  network_mode: z
    .string()
    .regex(/^(host|none|bridge|(service|container):.+)$/, {
      message: 'must be "host", "none", "bridge", "service:NAME" or "container:NAME"',
    })
    .optional(),
  networks: z
    .record(
      z.string().min(1),
      z
        .strictObject({
          aliases: strList.optional(),
          ipv4_address: z.string().optional(),
          ipv6_address: z.string().optional(),
          priority: wholeNumber.optional(),
        })
        .nullable(),
    )
    .optional(),
  links: strList.optional(),
  volumes_from: strList.optional(),
  expose: z.array(z.union([z.string(), wholeNumber]).transform(String)).optional(),
  mem_limit: wholeNumber.nonnegative().optional(),
  mem_reservation: wholeNumber.nonnegative().optional(),
  memswap_limit: wholeNumber.min(-1).optional(),
  mem_swappiness: wholeNumber.min(0).max(100).optional(),
  oom_kill_disable: z.boolean().optional(),
  oom_score_adj: wholeNumber.min(-1000).max(1000).optional(),
  cpus: z.number().nonnegative().optional(),
  cpu_shares: wholeNumber.nonnegative().optional(),
  cpu_period: wholeNumber.nonnegative().optional(),
  cpu_quota: wholeNumber.optional(),
  cpuset: z.string().optional(),
  pids_limit: wholeNumber.optional(),
  sysctls: z.record(z.string(), z.union([z.string(), z.number()]).transform(String)).optional(),
  group_add: z.array(z.union([z.string(), wholeNumber]).transform(String)).optional(),
  storage_opt: strMap.optional(),
  post_start: z.array(hookSchema).optional(),
  pre_stop: z.array(hookSchema).optional(),
});

const fileSchema = z.strictObject({
  target: z.string().startsWith("/", "must be an absolute path"),
  content: z.string(),
  mode: wholeNumber.nonnegative().optional(),
  uid: z.string().optional(),
  gid: z.string().optional(),
});

const SERVICE_TYPES = ["container", "process"] as const;
/** Fields that only one service type understands. */
const CONTAINER_ONLY = [
  "image",
  "build",
  "command",
  "entrypoint",
  "volumes",
  "ulimits",
  "replicas",
  "labels",
  "files",
  "docker",
] as const;
const PROCESS_ONLY = ["cmd", "dir", "restart", "max_restarts", "watch"] as const;

/** A DNS label: what `<subdomain>.<env>.localhost` is made of. */
export const DNS_LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_LABEL_MSG = 'must be a DNS label: lowercase letters, digits and "-" (at most 63)';

/** The a3s document's `watch` block, on a process service. */
export const watchSchema = z.strictObject({
  paths: z.array(z.string().min(1, "must not be empty")).min(1, "must name at least one path"),
  ignore: z.array(z.string().min(1, "must not be empty")).optional(),
  restart: z.boolean().optional(),
  debounce: duration.optional(),
});

export const RESTART_POLICIES = ["no", "on-failure", "always"] as const;

export const serviceSchema = z
  .strictObject({
    type: z.enum(SERVICE_TYPES).optional(),
    /** This container's Postgres is what `envctl backup`, `restore` and `export` dump. */
    backup: z.enum(["postgres"]).optional(),
    image: z.string().min(1, "must not be empty").optional(),
    build: buildSchema.optional(),
    command: commandLike.optional(),
    entrypoint: commandLike.optional(),
    cmd: z.string().min(1, "must not be empty").optional(),
    dir: z.string().min(1, "must not be empty").optional(),
    restart: z.enum(RESTART_POLICIES).optional(),
    max_restarts: z
      .number()
      .int("must be a whole number")
      .min(1, "must be at least 1 (restart: no keeps it down)")
      .optional(),
    watch: watchSchema.optional(),
    subdomain: z.string().regex(DNS_LABEL_RE, DNS_LABEL_MSG).optional(),
    env: scalarMap.optional(),
    ports: z.array(portSchema).optional(),
    volumes: z.array(volumeSchema).optional(),
    ulimits: z
      .record(z.string().regex(/^[a-z]+$/, "must be a limit name like nofile"), ulimitValue)
      .optional(),
    health: healthSchema.optional(),
    depends_on: dependsOnSchema.optional(),
    cold: z.boolean().optional(),
    replicas: wholeNumber.min(0, "must be 0 or more").max(100, "must be at most 100").optional(),
    labels: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
      .optional(),
    files: z.array(fileSchema).optional(),
    docker: dockerOptionsSchema.optional(),
  })
  .superRefine((s, ctx) => {
    const type = s.type ?? (s.cmd !== undefined ? "process" : "container");
    const foreign = type === "process" ? CONTAINER_ONLY : PROCESS_ONLY;
    for (const k of foreign) {
      if (s[k] !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: [k],
          message: `not allowed on a ${type} service (${type === "process" ? 'a process runs "cmd" on the host' : 'use "command" for containers, or type: process'})`,
        });
      }
    }
    if (type === "process") {
      if (s.cmd === undefined)
        ctx.addIssue({ code: "custom", message: 'a process service needs "cmd"' });
      if (s.max_restarts !== undefined && (s.restart ?? "no") === "no") {
        ctx.addIssue({
          code: "custom",
          path: ["max_restarts"],
          message: 'needs a restart policy: add restart: "on-failure" or "always"',
        });
      }
      return;
    }
    s.ports?.forEach((p, i) => {
      if (typeof p === "object" && p.fixed) {
        ctx.addIssue({
          code: "custom",
          path: ["ports", i, "fixed"],
          message: "only a process service's port can be fixed (a container's is in the block)",
        });
      }
    });
    s.ports?.forEach((p, i) => {
      if (typeof p === "object" && p.port !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["ports", i, "port"],
          message: 'not allowed on a container service (use "container": the port inside it)',
        });
      }
    });
    if (s.image === undefined && s.build === undefined) {
      ctx.addIssue({ code: "custom", message: 'one of "image" or "build" is required' });
    }
  });

export const ENV_VAR_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envVarName = z.string().regex(ENV_VAR_RE, "must be a shell variable name");
const exportMap = z.record(envVarName, scalar);
const exportGroup = z.strictObject({
  section: z.string().min(1, "must not be empty").optional(),
  vars: exportMap,
});
const exportsSchema = z.union([exportMap, z.array(exportGroup)], {
  error: "must be a mapping of NAME to value, or a list of { section, vars }",
});

const initStep = z.union(
  [
    z.string().min(1, "must not be empty"),
    z.strictObject({
      name: z.string().regex(STEP_NAME_RE, "must be a lowercase name").optional(),
      run: z.string().min(1, "must not be empty"),
      dir: z.string().min(1, "must not be empty").optional(),
    }),
  ],
  { error: "must be a command or a mapping with name, run and dir" },
);
const initSchema = z.union(
  [
    z.array(initStep),
    z.strictObject({ after: z.array(z.string()).optional(), steps: z.array(initStep) }),
  ],
  { error: "must be a list of steps or a mapping with after and steps" },
);

const temporalSchema = z.strictObject({
  address: z.string().min(1, "must not be empty").optional(),
  namespaces: z.array(z.string().min(1, "must not be empty")).optional(),
  search_attributes: z
    .record(
      z.string().min(1, "must not be empty"),
      z.enum(["Keyword", "Text", "Int", "Double", "Bool", "Datetime", "KeywordList"]),
    )
    .optional(),
});

const composeFiles = z.union(
  [
    z.string().min(1, "must not be empty"),
    z.array(z.string().min(1, "must not be empty")).min(1, "must not be empty"),
  ],
  { error: "must be a file or a list of files" },
);

const copilotSchema = z.strictObject({
  infra: z.enum(["aws", "none"]).optional(),
  project_name: z
    .string()
    .regex(
      /^[a-z][a-z0-9-]{0,29}$/,
      "must be a lowercase letter, then lowercase letters, digits or - (at most 30)",
    )
    .optional(),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as eu-west-1")
    .optional(),
});

export const specSchema = z
  .strictObject({
    kind: z.enum(["devenv", "copilot", "hivesync"]).optional(),
    copilot: copilotSchema.optional(),
    hivesync: hivesyncSchema.optional(),
    repo: z.string().min(1, "must not be empty").optional(),
    base: z.string().min(1, "must not be empty").optional(),
    compose: composeFiles.optional(),
    dev: z
      .strictObject({
        proxy_port: portNumber
          .refine((n) => n >= 1024, "must be 1024 or above (the proxy runs without root)")
          .optional(),
        log_level: z.enum(LOG_LEVELS).optional(),
      })
      .optional(),
    services: z
      .record(
        z
          .string()
          .regex(
            SERVICE_NAME_RE,
            'invalid service name: use a letter or digit, then letters, digits, "_", "." or "-" (at most 63 characters)',
          ),
        serviceSchema,
      )
      .optional(),
    exports: exportsSchema.optional(),
    init: initSchema.optional(),
    temporal: temporalSchema.optional(),
    volumes: z
      .record(
        z.string().regex(VOLUME_NAME_RE, `must match ${VOLUME_NAME_RE.source}`),
        z
          .strictObject({
            external: z.boolean().optional(),
            name: z.string().min(1).optional(),
            driver: z.string().min(1).optional(),
            driver_opts: z
              .record(z.string(), z.union([z.string(), z.number()]).transform(String))
              .optional(),
            labels: strMap.optional(),
          })
          .nullable(),
      )
      .optional(),
    networks: z
      .array(z.string().regex(VOLUME_NAME_RE, `must match ${VOLUME_NAME_RE.source}`))
      .optional(),
  })
  .superRefine((d, ctx) => {
    if (d.copilot !== undefined && d.kind !== "copilot") {
      ctx.addIssue({
        code: "custom",
        path: ["copilot"],
        message: 'applies to the copilot kind only: add "kind: copilot"',
      });
    }
    if (d.hivesync !== undefined && d.kind !== "hivesync") {
      ctx.addIssue({
        code: "custom",
        path: ["hivesync"],
        message: 'applies to the hivesync kind only: add "kind: hivesync"',
      });
    }
    if (d.compose === undefined && Object.keys(d.services ?? {}).length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["services"],
        message: 'must define at least one service (or import them with "compose")',
      });
    }
  });

/** The document as written (before parsing). */
export type SpecInput = z.input<typeof specSchema>;
/** The document after zod: ports are numbers, durations are milliseconds, volumes are objects. */
export type SpecDoc = z.output<typeof specSchema>;
export type ServiceDoc = z.output<typeof serviceSchema>;

/** Known keys per object kind, for "did you mean" hints on unknown fields. */
const KNOWN_KEYS = {
  copilot: Object.keys(copilotSchema.shape),
  hivesync: Object.keys(hivesyncSchema.shape),
  root: Object.keys(specSchema.shape),
  service: Object.keys(serviceSchema.shape),
  temporal: Object.keys(temporalSchema.shape),
  build: Object.keys(buildObject.shape),
  port: Object.keys(portObject.shape),
  volume: Object.keys(volumeObject.shape),
  health: Object.keys(healthSchema.shape),
  dependency: Object.keys(dependencyObject.shape),
  watch: Object.keys(watchSchema.shape),
};

// ---------------------------------------------------------------------------------------------
// zod issues -> SpecIssues: dot-paths, and messages for type mismatches and unknown keys

type ZodIssue = z.core.$ZodIssue;

export function zodIssues(
  issues: readonly ZodIssue[],
  prefix: PropertyKey[],
  root: unknown,
): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const issue of issues) out.push(...explain(issue, prefix, root));
  // A union can report the same problem through several branches.
  const seen = new Set<string>();
  return out.filter((i) => {
    const k = `${i.path}\0${i.message}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

function explain(issue: ZodIssue, prefix: PropertyKey[], root: unknown): SpecIssue[] {
  const at = [...prefix, ...issue.path];
  const p = dotPath(at);
  switch (issue.code) {
    case "invalid_type": {
      const value = valueAt(root, at);
      if (value === undefined) return [{ path: p, message: "required" }];
      // `.int()` on a number: the check's own message ("must be a whole number").
      if (issue.expected === "int") {
        return [{ path: p, message: `${issue.message}, got ${describeValue(value)}` }];
      }
      return [
        {
          path: p,
          message: `must be ${expectedName(issue.expected)}, got ${describeValue(value)}`,
        },
      ];
    }
    case "unrecognized_keys":
      return issue.keys.map((k) => ({ path: p, message: unknownField(k, at) }));
    case "invalid_value": {
      const vals = issue.values.map((v) => JSON.stringify(v));
      return [
        {
          path: p,
          message: vals.length === 1 ? `must be ${vals[0]}` : `must be one of ${vals.join(", ")}`,
        },
      ];
    }
    case "invalid_key":
      return issue.issues.map((i) => ({ path: p, message: i.message }));
    case "invalid_union": {
      if (valueAt(root, at) === undefined && isMissingKey(root, at)) {
        return [{ path: p, message: "required" }];
      }
      // Explain the branch that matched the value's type; if none did, the union's message says
      // which forms are accepted.
      const branch = issue.errors.find((b) => !b.every((i) => isTypeMismatch(i)));
      if (branch) return zodIssues(branch, at, root);
      return [{ path: p, message: issue.message }];
    }
    default:
      return [{ path: p, message: issue.message }];
  }
}

/** `at` names a key its (existing) parent mapping does not have. */
function isMissingKey(root: unknown, at: readonly PropertyKey[]): boolean {
  const parent = valueAt(root, at.slice(0, -1));
  const key = at[at.length - 1];
  return key !== undefined && parent !== null && typeof parent === "object" && !(key in parent);
}

/** The value simply had another type than this branch expects (a float is a number: no). */
function isTypeMismatch(i: ZodIssue): boolean {
  if (i.path.length > 0) return false;
  if (i.code === "invalid_type") return i.expected !== "int";
  return i.code === "invalid_union" && i.errors.every((b) => b.every(isTypeMismatch));
}

function expectedName(expected: string): string {
  if (expected === "object" || expected === "record") return "a mapping";
  if (expected === "array") return "a list";
  if (expected === "number" || expected === "int") return "a number";
  return `a ${expected}`;
}

/** How a value reads in a message: `a list`, `"abc"`, `number 3`. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return quote(v);
  return `${typeof v} ${JSON.stringify(v) ?? typeof v}`;
}

function unknownField(key: string, at: readonly PropertyKey[]): string {
  const msg = `unknown field ${quote(key)}`;
  const kind = objectKind(at);
  if (kind === "port" && (key === "host" || key === "published" || key === "target")) {
    return `${msg} (host ports come from the env's port block; set "offset" to choose one)`;
  }
  const guess = kind && key.length <= 40 ? closest(key, KNOWN_KEYS[kind]) : undefined;
  return guess ? `${msg} (did you mean "${guess}"?)` : msg;
}

/** Which object of the document a path points at, from its shape. */
function objectKind(at: readonly PropertyKey[]): keyof typeof KNOWN_KEYS | undefined {
  if (at.length === 0) return "root";
  if (at.length === 1 && at[0] === "temporal") return "temporal";
  if (at.length === 1 && at[0] === "copilot") return "copilot";
  if (at.length === 1 && at[0] === "hivesync") return "hivesync";
  if (at[0] !== "services") return undefined;
  if (at.length === 2) return "service";
  const field = at[2];
  if (at.length === 3 && (field === "build" || field === "health" || field === "watch"))
    return field;
  if (at.length === 4 && field === "ports") return "port";
  if (at.length === 4 && field === "volumes") return "volume";
  if (at.length === 4 && field === "depends_on") return "dependency";
  return undefined;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c);
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]!;
}
