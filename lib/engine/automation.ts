import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import type { ConfigMap, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { UserError } from "../core/errors";
import { mapEngineError } from "./errors";
import type { ResolvedEnv } from "../spec/model";
import { backendUrl, passphraseEnv, type Home } from "../core/home";
import { engineEnv, findOnPath, projectRoot, toolchainRoot } from "../core/toolchain";
import { ensureProject, PROJECT } from "./project";

export { PROJECT } from "./project";

/**
 * Everything needed to drive the engine for one ENVCTL_HOME. The update path runs the pulumi
 * binary directly (lib/engine/update.ts); the Automation API (~0.8 s of module loading, plus a
 * `pulumi version`) is loaded only by the operations that use it, on first call of `workspace`.
 */
export interface Engine {
  home: Home;
  /** The envctl installation: the program, the toolchain. */
  root: string;
  /** The home's project directory, where pulumi runs and the stacks' settings files live. */
  project: string;
  /** The pulumi binary: the toolchain's (scripts/setup), else the one on PATH. */
  pulumi: string;
  /** Environment every pulumi process gets (backend, secrets, offline switches). */
  env: Record<string, string>;
  workspace(): Promise<LocalWorkspace>;
}

type Automation = typeof import("@pulumi/pulumi/automation");
let automation: Promise<Automation> | undefined;
function loadAutomation(): Promise<Automation> {
  return (automation ??= import("@pulumi/pulumi/automation"));
}

/** The engine env as shell exports: `envctl env` prints these so `pulumi` by hand sees the same stacks. */
export function engineVars(home: Home, root = projectRoot()): Record<string, string> {
  return {
    PULUMI_BACKEND_URL: backendUrl(home),
    ...passphraseEnv(home),
    ENVCTL_HOME: home.root,
    ...engineEnv(root),
  };
}

const NO_PULUMI =
  "the Pulumi CLI is not installed: run `npm run setup` (builds it offline when needed)";

function pulumiBinary(root: string): string {
  const own = path.join(toolchainRoot(root), "bin", "pulumi");
  if (fs.existsSync(own)) return own;
  const onPath = findOnPath("pulumi");
  if (!onPath) throw new UserError(NO_PULUMI);
  return onPath;
}

async function createWorkspace(engine: Omit<Engine, "workspace">): Promise<LocalWorkspace> {
  const { LocalWorkspace, PulumiCommand } = await loadAutomation();
  const own = toolchainRoot(engine.root);
  const pulumiCommand = engine.pulumi.startsWith(own + path.sep)
    ? await PulumiCommand.get({ root: own })
    : await PulumiCommand.get().catch(() => {
        throw new UserError(NO_PULUMI);
      });
  return LocalWorkspace.create({ workDir: engine.project, pulumiCommand, envVars: engine.env });
}

/**
 * The home's project directory, made or repaired, with the settings files an earlier envctl
 * left in the install adopted for the stacks this home's backend holds. Every entry point that
 * runs pulumi (the verbs, `envctl env`) goes through here.
 */
export function homeProject(
  home: Home,
  root = projectRoot(),
  env: Record<string, string> = engineVars(home, root),
): string {
  return ensureProject(home, root, (stack) => fileBackendHas(env, stack) === true);
}

/** Starts no process: the pulumi binary is found on disk, the workspace made on first use. */
export function openEngine(home: Home): Promise<Engine> {
  const root = projectRoot();
  const env = engineVars(home, root);
  const project = homeProject(home, root, env);
  const base = { home, root, project, pulumi: pulumiBinary(root), env };
  let workspace: Promise<LocalWorkspace> | undefined;
  return Promise.resolve({ ...base, workspace: () => (workspace ??= createWorkspace(base)) });
}

/**
 * Whether the env's stack exists. With the file backend this reads the backend's directory
 * (`.pulumi/stacks/envctl/NAME.json`, no pulumi process); other backends are asked, and so is a
 * file backend given as `file://~/…` or a relative path.
 */
export async function stackExists(engine: Engine, name: string): Promise<boolean> {
  return fileBackendHas(engine.env, name) ?? (await trySelectStack(engine, name)) !== undefined;
}

/** The `.pulumi` directory of a local file backend given by absolute path, else undefined. */
export function fileBackendDir(env: Record<string, string>): string | undefined {
  const url = env.PULUMI_BACKEND_URL ?? "";
  const root = url.startsWith("file://") ? url.slice("file://".length) : "";
  // `file://~/…` and relative paths are pulumi's to expand.
  return path.isAbsolute(root) ? path.join(root, ".pulumi") : undefined;
}

/** Whether a local file backend holds the stack; undefined when the backend is not one. */
function fileBackendHas(env: Record<string, string>, name: string): boolean | undefined {
  const dir = fileBackendDir(env);
  if (!dir) return undefined;
  const stacks = path.join(dir, "stacks", PROJECT);
  return [".json", ".json.gz"].some((ext) => fs.existsSync(path.join(stacks, name + ext)));
}

/**
 * Whether the home's backend holds the env's stack, answered without making anything (no
 * project directory, passphrase or state directory, no pulumi process): undefined when only
 * pulumi can tell, for a backend that is not a local file backend.
 */
export function stackOnDisk(
  home: Home,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): boolean | undefined {
  return fileBackendHas(
    { PULUMI_BACKEND_URL: env.PULUMI_BACKEND_URL || `file://${home.stateDir}` },
    name,
  );
}

/**
 * After `stack rm`: the file backend keeps the removed stack's update history, checkpoint
 * backups and a `.bak` of its checkpoint; they hold the env's state (variables included) and
 * would grow without end. Removes them; other backends keep their own history.
 */
export function forgetStack(engine: Pick<Engine, "env">, name: string): void {
  const dir = fileBackendDir(engine.env);
  if (!dir || fileBackendHas(engine.env, name)) return;
  for (const sub of ["history", "backups"]) {
    fs.rmSync(path.join(dir, sub, PROJECT, name), { recursive: true, force: true });
  }
  const stacks = path.join(dir, "stacks", PROJECT);
  if (!fs.existsSync(stacks)) return;
  for (const f of fs.readdirSync(stacks)) {
    if (f.startsWith(`${name}.json`) && f.includes(".bak")) {
      fs.rmSync(path.join(stacks, f), { force: true });
    }
  }
}

/** Runs one Automation API stack call, its failures mapped to sentences (mapEngineError). */
async function stackCall(
  engine: Engine,
  name: string,
  call: (a: Automation, ws: LocalWorkspace) => Promise<Stack>,
): Promise<Stack> {
  try {
    return await call(await loadAutomation(), await engine.workspace());
  } catch (err) {
    throw mapEngineError(err, name);
  }
}

export function selectStack(engine: Engine, name: string): Promise<Stack> {
  return stackCall(engine, name, ({ Stack }, ws) => Stack.select(name, ws));
}

/** Selects the env's stack when it exists (one pulumi process), else undefined. */
export async function trySelectStack(engine: Engine, name: string): Promise<Stack | undefined> {
  try {
    const { Stack } = await loadAutomation();
    return await Stack.select(name, await engine.workspace());
  } catch (err) {
    const notFound = err instanceof Error && err.name === "StackNotFoundError";
    if (notFound || /no stack named/i.test(String(err))) return undefined;
    throw mapEngineError(err, name);
  }
}

export function createStack(engine: Engine, name: string): Promise<Stack> {
  return stackCall(engine, name, ({ Stack }, ws) => Stack.create(name, ws));
}

/** The stack config that fully describes one env (stacks/index.ts reads it back). */
export function stackConfig(env: ResolvedEnv): ConfigMap {
  return { "envctl:kind": { value: env.kind }, "envctl:env": { value: JSON.stringify(env) } };
}

/**
 * Puts the config values into the stack's settings file (`Pulumi.<stack>.yaml`, which holds the
 * encryption salt `pulumi stack init` wrote). Plain values are written into the file directly,
 * and only when they differ, so a lifecycle verb costs no extra pulumi process; secrets, or a
 * stack without its file yet, go through `pulumi config set-all`.
 */
export async function ensureConfig(
  engine: Engine,
  stack: Stack | string,
  config: ConfigMap,
): Promise<boolean> {
  const name = typeof stack === "string" ? stack : stack.name.split("/").pop()!;
  const file = path.join(engine.project, `Pulumi.${name}.yaml`);
  const plain = Object.values(config).every((v) => !v.secret);
  if (fs.existsSync(file)) {
    const doc =
      (YAML.parse(fs.readFileSync(file, "utf8")) as {
        config?: Record<string, unknown>;
      } | null) ?? {};
    const current = doc.config ?? {};
    if (plain && Object.entries(config).every(([k, v]) => current[k] === v.value)) return false;
    if (plain) {
      doc.config = {
        ...current,
        ...Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value])),
      };
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, YAML.stringify(doc, { lineWidth: 0 }), { mode: 0o600 });
      fs.renameSync(tmp, file);
      return true;
    }
  }
  const target = typeof stack === "string" ? await selectStack(engine, name) : stack;
  await target.setAllConfig(config);
  return true;
}
