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
import type { SpecIssue } from "./model";

export const SERVICE_NAME_RE = /^[a-z][a-z0-9-]{0,30}$/;
export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const PORT_RANGE = "must be 1..65535";
const DURATION_MSG = 'must be a duration like "500ms", "2s" or "1m", or a number of seconds';
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a duration string such as `"1m30s"`; assumes it matched `DURATION_RE`. */
export function durationMs(text: string): number {
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 1000);
  }
  return Math.round(total);
}

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

const duration = z.union(
  [
    z
      .number()
      .nonnegative(DURATION_MSG)
      .transform((s) => Math.round(s * 1000)),
    z.string().regex(DURATION_RE, DURATION_MSG).transform(durationMs),
  ],
  { error: DURATION_MSG },
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
  args: scalarMap.optional(),
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
  })
  .superRefine((p, ctx) => {
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
}

function volumeProblems(v: RawVolume): { field: "source" | "target"; message: string }[] {
  const out: { field: "source" | "target"; message: string }[] = [];
  if (!isBindSource(v.source) && !VOLUME_NAME_RE.test(v.source)) {
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
    source: z.string().min(1, "must not be empty"),
    target: z.string().min(1, "must not be empty"),
    read_only: z.boolean().optional(),
  })
  .superRefine((v, ctx) => {
    for (const p of volumeProblems(v))
      ctx.addIssue({ code: "custom", path: [p.field], message: p.message });
  });

const volumeSchema = z.union([volumeString, volumeObject], {
  error: `${VOLUME_STRING_MSG} or a mapping with source, target and read_only`,
});

const HEALTH_KINDS = ["command", "http", "tcp"] as const;

const healthSchema = z
  .strictObject({
    command: z.string().min(1, "must not be empty").optional(),
    http: z.string().startsWith("/", 'must be a path starting with "/"').optional(),
    tcp: portNumber.optional(),
    port: portNumber.optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    retries: z.number().int("must be a whole number").min(1, "must be at least 1").optional(),
    start_period: duration.optional(),
  })
  .superRefine((h, ctx) => {
    const set = HEALTH_KINDS.filter((k) => h[k] !== undefined);
    if (set.length === 0) {
      ctx.addIssue({ code: "custom", message: 'must set one of "command", "http" or "tcp"' });
    } else if (set.length > 1) {
      const names = set.map((k) => `"${k}"`).join(" and ");
      ctx.addIssue({
        code: "custom",
        message: `must set only one of "command", "http" or "tcp", got ${names}`,
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
  condition: z.enum(["service_started", "service_healthy"]).optional(),
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

const SERVICE_TYPES = ["container", "process"] as const;
/** Fields that only one service type understands. */
const CONTAINER_ONLY = ["image", "build", "command", "entrypoint", "volumes", "ulimits"] as const;
const PROCESS_ONLY = ["cmd", "dir"] as const;

export const serviceSchema = z
  .strictObject({
    type: z.enum(SERVICE_TYPES).optional(),
    image: z.string().min(1, "must not be empty").optional(),
    build: buildSchema.optional(),
    command: commandLike.optional(),
    entrypoint: commandLike.optional(),
    cmd: z.string().min(1, "must not be empty").optional(),
    dir: z.string().min(1, "must not be empty").optional(),
    env: scalarMap.optional(),
    ports: z.array(portSchema).optional(),
    volumes: z.array(volumeSchema).optional(),
    ulimits: z
      .record(z.string().regex(/^[a-z]+$/, "must be a limit name like nofile"), ulimitValue)
      .optional(),
    health: healthSchema.optional(),
    depends_on: dependsOnSchema.optional(),
    cold: z.boolean().optional(),
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
      return;
    }
    s.ports?.forEach((p, i) => {
      if (typeof p === "object" && p.port !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["ports", i, "port"],
          message: 'not allowed on a container service (use "container": the port inside it)',
        });
      }
    });
    if (s.image !== undefined && s.build !== undefined) {
      ctx.addIssue({ code: "custom", message: 'set either "image" or "build", not both' });
    } else if (s.image === undefined && s.build === undefined) {
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
      name: z.string().regex(SERVICE_NAME_RE, "must be a lowercase name").optional(),
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

export const specSchema = z
  .strictObject({
    repo: z.string().min(1, "must not be empty").optional(),
    base: z.string().min(1, "must not be empty").optional(),
    compose: composeFiles.optional(),
    services: z
      .record(
        z
          .string()
          .regex(
            SERVICE_NAME_RE,
            'invalid service name: use a lowercase letter, then lowercase letters, digits or "-" (at most 31 characters)',
          ),
        serviceSchema,
      )
      .optional(),
    exports: exportsSchema.optional(),
    init: initSchema.optional(),
    temporal: temporalSchema.optional(),
  })
  .superRefine((d, ctx) => {
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
  root: Object.keys(specSchema.shape),
  service: Object.keys(serviceSchema.shape),
  temporal: Object.keys(temporalSchema.shape),
  build: Object.keys(buildObject.shape),
  port: Object.keys(portObject.shape),
  volume: Object.keys(volumeObject.shape),
  health: Object.keys(healthSchema.shape),
  dependency: Object.keys(dependencyObject.shape),
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
  if (at[0] !== "services") return undefined;
  if (at.length === 2) return "service";
  const field = at[2];
  if (at.length === 3 && (field === "build" || field === "health")) return field;
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
