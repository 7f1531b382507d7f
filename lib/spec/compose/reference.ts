/**
 * Docker Compose reads compose files for envctl: `docker compose -f … [--profile …] config
 * --format json` does interpolation, `.env`, `env_file`, override merging, `extends`, `include`,
 * profiles and anchors exactly as `docker compose up` would, and envctl maps the normalized
 * project it prints (compose.ts). The plugin binary is run directly (as `docker-compose`, which
 * every Compose v2 binary accepts), which saves starting the Docker CLI.
 *
 * envctl reads those files first (inputs.ts): one that would stall Compose is refused there.
 * Results are cached by what Compose read: the files given, the project's `.env`, the files they
 * include, extend or take env_file from, and the variables they mention. A load that finds the
 * same inputs does not run Compose again.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { privateDir, resolveHome } from "../../core/home";
import { findOnPath } from "../../core/toolchain";
import { isExecutableFile } from "../commands";
import type { SpecIssue } from "../model";
import { cacheKey, locate, readInputs, serviceOrder } from "./inputs";

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

/**
 * A problem Compose reported, located as envctl locates issues: envctl's dot-path
 * (`services.web.ports[0]`, "" when Compose names no field), Compose's own words, the file
 * (relative to the project) and line when Compose names them.
 */
export type ComposeIssue = SpecIssue;

export type ComposeResult =
  | {
      project: ComposeProject;
      cached: boolean;
      /** Service names in the order the files write them (Compose prints them sorted). */
      order: string[];
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
    if (isExecutableFile(bin)) return bin;
  }
  const onPath = findOnPath("docker-compose");
  if (onPath) {
    const r = spawnSync(onPath, ["version", "--short"], { encoding: "utf8", timeout: 10_000 });
    if (r.status === 0 && /^v?2\./.test(r.stdout.trim())) return onPath;
  }
  return undefined;
}

export const COMPOSE_MISSING =
  "Docker Compose v2 is needed to read compose files and was not found (the docker compose " +
  "plugin, or docker-compose v2 on PATH); `bash scripts/setup compose` builds it, `envctl doctor` checks it";

/** Runs `config --format json` on `files` (absolute; the first file's directory is the project's). */
export function composeConfig(files: string[], opts: ComposeOptions = {}): ComposeResult {
  const env = opts.env ?? process.env;
  const dir = path.dirname(files[0]!);
  const inputs = readInputs(files, dir);
  if ("error" in inputs) return { error: inputs.error };
  const bin = findCompose(env);
  if (!bin) return { error: { path: "", message: COMPOSE_MISSING }, missingCompose: true };
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
  // Only a home envctl has set up (its catalog exists) gets a cache: reading a spec (validate,
  // a refused up) never makes anything in a fresh one.
  const home = resolveHome(env);
  const cacheDir =
    opts.cacheDir === null
      ? undefined
      : (opts.cacheDir ??
        (fs.existsSync(home.catalogFile) ? path.join(home.root, "cache", "compose") : undefined));
  const key = cacheDir ? cacheKey(bin, args, dir, env, inputs) : undefined;
  const cacheFile = cacheDir && key ? path.join(cacheDir, `${key}.json`) : undefined;
  if (cacheFile) {
    try {
      const project = JSON.parse(fs.readFileSync(cacheFile, "utf8")) as ComposeProject;
      const order = serviceOrder(inputs);
      return { project: unescapeDollars(project), cached: true, order, save: () => {} };
    } catch {
      // not cached (or unreadable): run Compose
    }
  }
  const r = spawnSync(bin, args, {
    cwd: dir,
    env: { ...env, COMPOSE_PROJECT_NAME: "envctl" },
    encoding: "utf8",
    timeout: 60_000,
    // Compose traps SIGTERM and would keep the load waiting on whatever it waits on.
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") {
    return { error: { path: "", message: "docker compose config did not answer within 60s" } };
  }
  if (r.error) return { error: { path: "", message: `running ${bin}: ${r.error.message}` } };
  if (r.status !== 0)
    return { error: locate(composeError(r.stderr || r.stdout, dir), inputs, dir) };
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
  return { project: unescapeDollars(project), cached: false, order: serviceOrder(inputs), save };
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
