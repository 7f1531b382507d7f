/**
 * envctl.yaml -> EnvSpec: YAML parse, zod shape check, normalization (normalize.ts: defaults,
 * absolute paths), then rule checks across services (rules.ts: dependencies, port offsets,
 * health ports). Every problem is a SpecIssue with a dot-path; a spec is returned only when
 * there are none.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { importCompose } from "./compose";
import type { EnvSpec, SpecIssue } from "./model";
import { parseYaml, readTextFile } from "./read";
import { describeValue, specSchema, zodIssues } from "./schema";

import { normalize, overlay } from "./normalize";
import { checkRules } from "./rules";
import { copilotComposeEnv, copilotIssues } from "./copilot";
import { hivesyncIssues } from "./hivesync";
export interface ParseResult {
  spec?: EnvSpec;
  errors: SpecIssue[];
  warnings: SpecIssue[];
}

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
  /** Compose profiles for the `compose:` files (`--profile`). */
  profiles?: string[];
}

export function loadSpecFile(file: string, opts: Omit<SpecOrigin, "file"> = {}): ParseResult {
  const abs = path.resolve(file);
  const read = readTextFile(abs);
  if (!("text" in read)) {
    return { errors: [{ path: "", message: `cannot read ${abs}: ${read.reason}` }], warnings: [] };
  }
  return parseSpecText(read.text, { ...opts, file: abs });
}

export function parseSpecText(text: string, opts: SpecOrigin): ParseResult {
  const warnings: SpecIssue[] = [];
  const parsed = parseYaml(text);
  if ("problem" in parsed) {
    const { line, column, path: at = "", message } = parsed.problem;
    const where = [opts.file, line, column].filter((x) => x !== undefined).join(":");
    return { errors: [{ path: at, message: at ? message : `${where}: ${message}` }], warnings };
  }
  for (const w of parsed.warnings) warnings.push({ path: "", message: `YAML: ${w}` });
  const data = parsed.data;
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
  const merged = withComposeServices(data as Record<string, unknown>, dir, opts.profiles);
  warnings.push(...merged.warnings);
  if (merged.errors.length > 0) return { errors: merged.errors, warnings };
  return parseSpecData(merged.data, { dir, repo: opts.repo }, warnings);
}

/** Compose files given directly (`envctl up NAME -f docker-compose.yml -f override.yml`). */
export function loadComposeFiles(files: string[], opts: { profiles?: string[] } = {}): ParseResult {
  const abs = files.map((f) => path.resolve(f));
  const missing = abs.find((f) => !fs.existsSync(f));
  if (missing)
    return {
      errors: [{ path: "", message: `cannot read ${missing}: no such file` }],
      warnings: [],
    };
  const res = parseSpecText(`compose: ${JSON.stringify(abs)}\n`, {
    file: path.join(path.dirname(abs[0]!), "envctl.yaml"),
    ...opts,
  });
  // Every field came from the compose files: name it as they write it.
  for (const i of [...res.errors, ...res.warnings]) i.path = composePath(i.path);
  return res;
}

/** envctl.yaml's name of an imported field -> the compose key it came from. */
const COMPOSE_NAMES: [RegExp, string][] = [
  [/^(services\.[^.[]+)\.docker\./, "$1."],
  [/^(services\.[^.[]+)\.health(?=\.|$)/, "$1.healthcheck"],
  [/^(services\.[^.[]+)\.env(?=\.|$)/, "$1.environment"],
  [/^(services\.[^.[]+)\.replicas$/, "$1.deploy.replicas"],
];

export function composePath(p: string): string {
  for (const [re, to] of COMPOSE_NAMES) if (re.test(p)) return p.replace(re, to);
  return p;
}

export function parseSpecData(
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
  if (spec.kind === "copilot") {
    const first = [parsed.data.compose ?? []].flat()[0];
    errors.push(
      ...copilotIssues(spec, first ? path.dirname(path.resolve(where.dir, first)) : where.dir),
    );
  }
  errors.push(...hivesyncIssues(spec));
  return errors.length > 0 ? { errors, warnings } : { spec, errors, warnings };
}

/**
 * `compose:` files become services; a service of the same name in envctl.yaml overrides the
 * imported fields it sets (so a spec can add a health check or an offset to a compose service).
 */
function withComposeServices(
  data: Record<string, unknown>,
  dir: string,
  profiles: string[] | undefined,
): { data: Record<string, unknown>; errors: SpecIssue[]; warnings: SpecIssue[] } {
  const files = data.compose;
  if (files === undefined) return { data, errors: [], warnings: [] };
  const list = typeof files === "string" ? [files] : Array.isArray(files) ? files : undefined;
  if (list?.length === 0) {
    return { data, errors: [{ path: "compose", message: "must not be empty" }], warnings: [] };
  }
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
  const imported = importCompose(abs, {
    ...(profiles ? { profiles } : {}),
    ...(data.kind === "copilot"
      ? { env: copilotComposeEnv(data.copilot as Record<string, unknown> | undefined) }
      : {}),
    // A hivesync project's resolved file holds its secrets: it is never written to a cache.
    ...(data.kind === "hivesync" ? { cacheDir: null } : {}),
  });
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
  const out: Record<string, unknown> = {
    ...data,
    services: own !== undefined && services.__invalid !== undefined ? own : services,
  };
  if (imported.volumes)
    out.volumes = { ...imported.volumes, ...(data.volumes as object | undefined) };
  if (imported.networks) {
    const ownNets = Array.isArray(data.networks) ? (data.networks as string[]) : [];
    out.networks = [...new Set([...imported.networks, ...ownNets])];
  }
  // A field the spec sets anew (an explicit offset for a colliding port) is not the import's.
  const ownSvc = (n: string): Record<string, unknown> | undefined => {
    const v = (own as Record<string, unknown> | undefined)?.[n];
    return v && typeof v === "object" && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  };
  const warnings = imported.warnings.filter((w) => {
    const m = /^services\.([^.[]+)\.([a-z_]+)/.exec(w.path);
    return !(m && ownSvc(m[1]!)?.[m[2]!] !== undefined);
  });
  return { data: out, errors: imported.errors, warnings };
}

// ---------------------------------------------------------------------------------------------

// In its own module: the catalog records it without loading the schema.
export { specHash } from "./hash";
