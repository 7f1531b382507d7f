/**
 * Docker Compose reads compose files for envctl: `docker compose -f … [--profile …] config
 * --format json` does interpolation, `.env`, `env_file`, override merging, `extends`, `include`,
 * profiles and anchors exactly as `docker compose up` would, and envctl maps the normalized
 * project it prints (compose.ts). The plugin binary is run directly (as `docker-compose`, which
 * every Compose v2 binary accepts), which saves starting the Docker CLI.
 *
 * Results are cached by what Compose read: the files given, the project's `.env`, the files they
 * include, extend or take env_file from, and the variables they mention. A load that finds the
 * same inputs does not run Compose again.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { privateDir, resolveHome } from "../../core/home";
import { findOnPath } from "../../core/toolchain";

/** The project as `config --format json` prints it (only the parts envctl reads are typed). */
export interface ComposeProject {
  name?: string;
  services: Record<string, Record<string, unknown>>;
  volumes?: Record<string, Record<string, unknown>>;
  networks?: Record<string, Record<string, unknown>>;
  secrets?: Record<string, Record<string, unknown>>;
  configs?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

export interface ComposeOptions {
  /** `--profile` names; COMPOSE_PROFILES in the environment adds to them, as in Compose. */
  profiles?: string[];
  /** The environment Compose interpolates from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * Where results are cached; undefined: `$ENVCTL_HOME/cache/compose` once the home exists (a
   * load never makes it); null: no cache.
   */
  cacheDir?: string | null;
}

/** A problem Compose reported, located as envctl locates issues (model.ts SpecIssue). */
export interface ComposeIssue {
  /** envctl's dot-path (`services.web.ports[0]`), or "" when Compose names no field. */
  path: string;
  /** Compose's own words. */
  message: string;
  /** The compose file, relative to the project's directory, when Compose names one. */
  file?: string;
}

export type ComposeResult =
  | {
      project: ComposeProject;
      cached: boolean;
      /** Keeps the result for the next load with the same inputs (call it once it is accepted). */
      save: () => void;
    }
  | { error: ComposeIssue; missingCompose?: boolean };

/** Where Docker keeps CLI plugins, in the order the Docker CLI looks. */
export function pluginDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const config = env.DOCKER_CONFIG ?? path.join(env.HOME ?? os.homedir(), ".docker");
  return [
    path.join(config, "cli-plugins"),
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
  ];
}

/**
 * The Compose v2 binary: ENVCTL_COMPOSE when set, else the Docker CLI plugin, else a standalone
 * `docker-compose` on PATH that is version 2 (the Python v1 cannot print the normalized model).
 */
export function findCompose(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.ENVCTL_COMPOSE) return env.ENVCTL_COMPOSE;
  for (const dir of pluginDirs(env)) {
    const bin = path.join(dir, "docker-compose");
    if (isExecutable(bin)) return bin;
  }
  const onPath = findOnPath("docker-compose");
  if (onPath) {
    const r = spawnSync(onPath, ["version", "--short"], { encoding: "utf8", timeout: 10_000 });
    if (r.status === 0 && /^v?2\./.test(r.stdout.trim())) return onPath;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export const COMPOSE_MISSING =
  "Docker Compose v2 is needed to read compose files and was not found (the docker compose " +
  "plugin, or docker-compose v2 on PATH); `bash scripts/setup compose` builds it, `envctl doctor` checks it";

/** Runs `config --format json` on `files` (absolute; the first file's directory is the project's). */
export function composeConfig(files: string[], opts: ComposeOptions = {}): ComposeResult {
  const env = opts.env ?? process.env;
  const bin = findCompose(env);
  if (!bin) return { error: { path: "", message: COMPOSE_MISSING }, missingCompose: true };
  const dir = path.dirname(files[0]!);
  const args = [
    ...files.flatMap((f) => ["-f", f]),
    "--project-directory",
    dir,
    // A fixed name: a directory Compose cannot name a project after is no reason to fail.
    "--project-name",
    "envctl",
    ...(opts.profiles ?? []).flatMap((p) => ["--profile", p]),
    "config",
    "--format",
    "json",
  ];
  const home = resolveHome(env).root;
  const cacheDir =
    opts.cacheDir === null
      ? undefined
      : (opts.cacheDir ?? (fs.existsSync(home) ? path.join(home, "cache", "compose") : undefined));
  const key = cacheDir ? cacheKey(bin, args, files, dir, env) : undefined;
  const cacheFile = cacheDir && key ? path.join(cacheDir, `${key}.json`) : undefined;
  if (cacheFile) {
    try {
      const project = JSON.parse(fs.readFileSync(cacheFile, "utf8")) as ComposeProject;
      return { project: unescapeDollars(project), cached: true, save: () => {} };
    } catch {
      // not cached (or unreadable): run Compose
    }
  }
  const r = spawnSync(bin, args, {
    cwd: dir,
    env: { ...env, COMPOSE_PROJECT_NAME: "envctl" },
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) return { error: { path: "", message: `running ${bin}: ${r.error.message}` } };
  if (r.status !== 0) return { error: composeError(r.stderr || r.stdout, dir) };
  let project: ComposeProject;
  try {
    project = JSON.parse(r.stdout) as ComposeProject;
  } catch (err) {
    return {
      error: {
        path: "",
        message: `docker compose config printed something that is not JSON: ${String(err)}`,
      },
    };
  }
  project.services ??= {};
  const text = JSON.stringify(project);
  const save = (): void => {
    if (!cacheFile) return;
    try {
      privateDir(cacheDir!);
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, text, { mode: 0o600 });
      fs.renameSync(tmp, cacheFile);
    } catch {
      // a cache that cannot be written only costs the next load a run of Compose
    }
  };
  return { project: unescapeDollars(project), cached: false, save };
}

/**
 * Compose prints a literal `$` as `$$` (so its output reads back as compose input); the values
 * a container gets are the literal ones.
 */
function unescapeDollars<T>(v: T): T {
  if (typeof v === "string") return v.replace(/\$\$/g, "$") as T;
  if (Array.isArray(v)) return v.map(unescapeDollars) as T;
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unescapeDollars(x)])) as T;
  }
  return v;
}

/**
 * Compose's message without its log decoration and with paths relative to the project, located:
 * the file it names, and the field as envctl writes it (`services.web.ports.0` and
 * `services[web].ports.[0]` are `services.web.ports[0]`).
 */
export function composeError(text: string, dir: string): ComposeIssue {
  const lines = text
    .split(`${dir}${path.sep}`)
    .join("")
    .split("\n")
    .filter((l) => !/^(?:time="[^"]*" )?level=warn|^WARN\[/.test(l))
    .map((l) => l.replace(/^time="[^"]*" level=\w+ msg="(.*)"$/, "$1").trim())
    .filter((l) => l && l !== "decoding failed due to the following error(s):");
  let first = lines[0] ?? "docker compose config failed";
  const rest = lines.slice(1);
  const issue: ComposeIssue = { path: "", message: "" };
  const fileMsg = /^(?:validating|failed to parse) ([^:]+): (.*)$/.exec(first);
  if (fileMsg) {
    issue.file = fileMsg[1]!;
    first = fileMsg[2]!.trim();
  }
  const service =
    /^service "([^"]+)" (?:depends on undefined service|refers to undefined (volume|network|secret|config))/.exec(
      first,
    );
  // A path that starts the message (`PATH must be…`, `PATH: …`, `'PATH' …`) is taken out of it.
  const leading =
    /^(?:error while interpolating )?'?(services(?:\[[^\]]*\]|\.\S*?)*?)(?:'|:)? (.*)$/.exec(first);
  if (service) {
    issue.path = `services.${service[1]!}.${service[2] ? `${service[2]}s` : "depends_on"}`;
  } else if (/^dependency cycle detected/.test(first)) {
    issue.path = "services";
  } else if (leading && !fileMsg?.[0].startsWith("failed")) {
    issue.path = dotPath(leading[1]!);
    first = leading[2]!;
  } else {
    const within = /(?:^|\s)(services(?:\[[^\]]*\]|\.[^\s:']+)+)/.exec(first);
    if (within) issue.path = dotPath(within[1]!);
  }
  issue.message = [first, ...rest].join("; ");
  return issue;
}

/** Compose's field path -> envctl's: `services[web].ports.[0].target` -> `services.web.ports[0].target`. */
function dotPath(p: string): string {
  return p
    .replace(/\[([^\]\d][^\]]*)\]/g, ".$1")
    .replace(/\.\[\](?:\..*)?$/, "")
    .replace(/\.\[?(\d+)\]?(?=\.|$)/g, "[$1]");
}

// ---------------------------------------------------------------------------------------------
// cache key

/** Everything the result depends on, hashed; undefined when that cannot be known (no cache). */
function cacheKey(
  bin: string,
  args: string[],
  files: string[],
  dir: string,
  env: NodeJS.ProcessEnv,
): string | undefined {
  const h = createHash("sha256");
  let st: fs.Stats;
  try {
    st = fs.statSync(bin);
  } catch {
    return undefined;
  }
  h.update(JSON.stringify([bin, st.size, st.mtimeMs, args, dir]));
  const seen = new Set<string>();
  const names = new Set<string>();
  const queue = [...files, path.join(dir, ".env")];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      h.update(`${file}\0missing\0`);
      continue;
    }
    h.update(`${file}\0${text}\0`);
    for (const m of text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]!);
    if (path.basename(file) === ".env" || !/\.ya?ml$/i.test(file)) continue;
    const refs = referencedFiles(text, path.dirname(file), dir);
    if (refs === undefined) return undefined;
    queue.push(...refs);
  }
  const vars = Object.keys(env)
    .filter((k) => names.has(k) || k.startsWith("COMPOSE_") || k.startsWith("DOCKER_"))
    .sort()
    .map((k) => [k, env[k]]);
  h.update(JSON.stringify(vars));
  return h.digest("hex");
}

/**
 * Files a compose file makes Compose read: `include`, `extends.file`, `env_file` (and an
 * include's own env files, with its project directory's `.env`). Undefined when one is written
 * with a variable, which only Compose can resolve.
 */
function referencedFiles(text: string, dir: string, projectDir: string): string[] | undefined {
  let data: unknown;
  try {
    data = parseDocument(text, { merge: true, uniqueKeys: false }).toJS({ maxAliasCount: 10_000 });
  } catch {
    return [];
  }
  if (!isObj(data)) return [];
  const out: string[] = [];
  let unknowable = false;
  const add = (p: unknown, base = dir): void => {
    if (typeof p !== "string") return;
    if (p.includes("$")) unknowable = true;
    // Relative to the file or to the project, depending on how the file was reached: take both.
    else out.push(path.resolve(base, p), path.resolve(projectDir, p));
  };
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  for (const inc of list(data.include)) {
    if (typeof inc === "string") {
      add(inc);
      add(".env", path.dirname(path.resolve(dir, inc)));
    } else if (isObj(inc)) {
      for (const p of list(inc.path)) add(p);
      for (const p of list(inc.env_file)) add(p);
      const first = list(inc.path)[0];
      const incDir =
        typeof inc.project_directory === "string"
          ? path.resolve(dir, inc.project_directory)
          : typeof first === "string"
            ? path.dirname(path.resolve(dir, first))
            : dir;
      add(".env", incDir);
    }
  }
  if (isObj(data.services)) {
    for (const svc of Object.values(data.services)) {
      if (!isObj(svc)) continue;
      if (isObj(svc.extends)) add(svc.extends.file);
      for (const e of list(svc.env_file)) add(isObj(e) ? e.path : e);
    }
  }
  return unknowable ? undefined : out;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);
