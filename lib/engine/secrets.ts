/**
 * Secret stack config (`envctl:secrets`): set through `pulumi config set --secret` with the
 * value on stdin, never on a command line (where `ps` shows it). A keyed digest of the values
 * (HMAC with the stack's passphrase, useless without it) sits beside them in plain config, so
 * an up whose secrets did not change costs no extra pulumi process.
 */
import { createHmac } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { canonicalJson } from "../core/canonical";
import type { Engine } from "./automation";
import { runPulumi } from "./update";

export const SECRETS_KEY = "envctl:secrets";
export const DIGEST_KEY = "envctl:secretsDigest";

function passphrase(env: Record<string, string>): string | undefined {
  if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return env.PULUMI_CONFIG_PASSPHRASE;
  const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
  try {
    return file ? fs.readFileSync(file, "utf8").trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The keyed digest of `value` for this engine's passphrase (undefined: no passphrase to key it). */
export function secretsDigest(engine: Engine, value: unknown): string | undefined {
  const key = passphrase(engine.env);
  if (key === undefined) return undefined;
  return createHmac("sha256", key).update(canonicalJson(value)).digest("hex").slice(0, 32);
}

/** The stack's settings file. */
export function configFileOf(engine: Engine, stack: string): string {
  return path.join(engine.project, `Pulumi.${stack}.yaml`);
}

/** The config of a stack's settings file as it is written (secrets stay encrypted). */
export function readConfig(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) return {};
  const doc = YAML.parse(fs.readFileSync(file, "utf8")) as {
    config?: Record<string, unknown>;
  } | null;
  return doc?.config ?? {};
}

/**
 * Sets (or, with undefined, removes) one plain config value in a settings file, without a
 * pulumi process: for envctl's own bookkeeping beside what pulumi wrote. The file is replaced
 * whole (a crash leaves the old one or the new one).
 */
export function writePlainConfig(file: string, key: string, value: string | undefined): void {
  if (!fs.existsSync(file)) {
    if (value === undefined) return;
    fs.writeFileSync(file, "", { mode: 0o600 });
  }
  const doc = (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as {
    config?: Record<string, unknown>;
  };
  const config = { ...doc.config };
  if (value === undefined) {
    if (!(key in config)) return;
    delete config[key];
  } else {
    config[key] = value;
  }
  doc.config = config;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, YAML.stringify(doc, { lineWidth: 0 }), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * Sets `envctl:secrets` of `stack` to `values` (in `configFile`, default the stack's settings
 * file) unless the digest says it holds them already. Returns whether it ran pulumi.
 */
export async function ensureSecrets(
  engine: Engine,
  stack: string,
  values: Record<string, string>,
  configFile = configFileOf(engine, stack),
): Promise<boolean> {
  const digest = secretsDigest(engine, values);
  const current = readConfig(configFile);
  if (digest && current[DIGEST_KEY] === digest && SECRETS_KEY in current) return false;
  const file = ["--config-file", configFile];
  await runPulumi(
    engine,
    ["config", "set", "--secret", "--stack", stack, ...file, SECRETS_KEY],
    undefined,
    JSON.stringify(values),
  );
  // Plain config, written beside the secret pulumi just wrote.
  if (digest) writePlainConfig(configFile, DIGEST_KEY, digest);
  return true;
}

/** Sets one secret config value (on stdin, never on a command line). */
export async function setSecretConfig(
  engine: Engine,
  stack: string,
  key: string,
  value: string,
  configFile = configFileOf(engine, stack),
): Promise<void> {
  await runPulumi(
    engine,
    ["config", "set", "--secret", "--stack", stack, "--config-file", configFile, key],
    undefined,
    value,
  );
}

/** The stack's outputs with secrets shown (for envctl's own use: never printed). */
export async function secretOutputs(
  engine: Engine,
  stack: string,
): Promise<Record<string, unknown>> {
  const text = await runPulumi(engine, [
    "stack",
    "output",
    "--json",
    "--show-secrets",
    "--stack",
    stack,
  ]);
  return JSON.parse(text || "{}") as Record<string, unknown>;
}

/** Removes a config value (nothing to do when it is not set). */
export async function unsetConfig(engine: Engine, stack: string, key: string): Promise<void> {
  const file = path.join(engine.project, `Pulumi.${stack}.yaml`);
  if (!(key in readConfig(file))) return;
  await runPulumi(engine, ["config", "rm", "--stack", stack, "--config-file", file, key]);
}
