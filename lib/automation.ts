import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import {
  type ConfigMap,
  ConcurrentUpdateError,
  LocalWorkspace,
  PulumiCommand,
  Stack,
  StackAlreadyExistsError,
  StackNotFoundError,
} from "@pulumi/pulumi/automation";
import { UserError } from "./errors";
import type { ResolvedEnv } from "./spec/model";
import { backendUrl, passphraseEnv, type Home } from "./home";
import { engineEnv, projectRoot, toolchainRoot } from "./toolchain";

/** Everything needed to drive the engine for one ENVCTL_HOME. */
export interface Engine {
  home: Home;
  root: string;
  workspace: LocalWorkspace;
  /** Environment every pulumi process gets (backend, secrets, offline switches). */
  env: Record<string, string>;
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

async function pulumiCommand(root: string): Promise<PulumiCommand> {
  const tc = toolchainRoot(root);
  if (fs.existsSync(path.join(tc, "bin", "pulumi"))) return PulumiCommand.get({ root: tc });
  try {
    return await PulumiCommand.get();
  } catch {
    throw new UserError(
      "the Pulumi CLI is not installed: run `npm run setup` (builds it offline when needed)",
    );
  }
}

export async function openEngine(home: Home): Promise<Engine> {
  const root = projectRoot();
  const env = engineVars(home, root);
  const workspace = await LocalWorkspace.create({
    workDir: root,
    pulumiCommand: await pulumiCommand(root),
    envVars: env,
  });
  return { home, root, workspace, env };
}

/** Maps Automation API failures to sentences a user can act on; anything else passes through. */
export function mapEngineError(err: unknown, envName: string): unknown {
  if (err instanceof StackNotFoundError) return new UserError(`env ${envName} does not exist`, 2);
  if (err instanceof StackAlreadyExistsError)
    return new UserError(`env ${envName} already exists`, 1);
  const text = err instanceof Error ? err.message : String(err);
  if (
    err instanceof ConcurrentUpdateError ||
    /locked|concurrent update|currently being updated/i.test(text)
  ) {
    return new UserError(
      `env ${envName} is busy: another envctl or pulumi operation is running on it`,
      1,
      [`if none is running, recover with: envctl recover ${envName}`],
    );
  }
  if (/no stack named|stack .* not found/i.test(text))
    return new UserError(`env ${envName} does not exist`, 2);
  if (/incorrect passphrase/i.test(text)) {
    // Stack config files live beside Pulumi.yaml, one per env name: another ENVCTL_HOME or
    // backend (with another passphrase) owns this name in this checkout.
    return new UserError(
      `env ${envName}: Pulumi.${envName}.yaml in the envctl checkout belongs to another ENVCTL_HOME or backend (its passphrase does not match)`,
      1,
      ["destroy the env from that ENVCTL_HOME, or choose another name"],
    );
  }
  return err;
}

export async function selectStack(engine: Engine, name: string): Promise<Stack> {
  try {
    return await Stack.select(name, engine.workspace);
  } catch (err) {
    throw mapEngineError(err, name);
  }
}

/** Selects the env's stack when it exists (one pulumi process), else undefined. */
export async function trySelectStack(engine: Engine, name: string): Promise<Stack | undefined> {
  try {
    return await Stack.select(name, engine.workspace);
  } catch (err) {
    if (err instanceof StackNotFoundError || /no stack named/i.test(String(err))) return undefined;
    throw mapEngineError(err, name);
  }
}

export async function createStack(engine: Engine, name: string): Promise<Stack> {
  try {
    return await Stack.create(name, engine.workspace);
  } catch (err) {
    throw mapEngineError(err, name);
  }
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
  const file = path.join(engine.root, `Pulumi.${name}.yaml`);
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
