/**
 * What a copilot env with `infra: aws` needs besides envctl's own toolchain: the AWS provider
 * plugin (Pulumi loads it to make the DSQL clusters and the knowledge base) and credentials the
 * AWS SDK finds. Both are read from the filesystem and environment alone, so `up`, `preview`,
 * `doctor` and the program itself can check them without starting anything.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Check } from "./types";

/** The provider the program's `@pulumi/aws` (package.json) asks the engine for. */
export const AWS_PLUGIN_VERSION = "7.48.0";

export const AWS_PLUGIN_FIX =
  `pulumi plugin install resource aws v${AWS_PLUGIN_VERSION} (needs internet), or put ` +
  `pulumi-resource-aws on PATH; or run the env with copilot.infra none and the endpoints in .env`;

/** Whether `file` is there and may be run. */
function runnable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `7.48.0` -> [7, 48, 0]; anything else sorts first. */
function version(v: string): number[] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

function atLeast(v: number[], min: number[]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i]!;
  return true;
}

/**
 * Where the engine finds the plugin: on PATH (an ambient plugin, used whatever its version) or
 * in PULUMI_HOME's plugin cache at the version the program asks for or a newer 7.x.
 */
export function findAwsPlugin(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, "pulumi-resource-aws");
    if (runnable(file)) return file;
  }
  const home = env.PULUMI_HOME ?? path.join(env.HOME ?? os.homedir(), ".pulumi");
  const plugins = path.join(home, "plugins");
  const min = version(AWS_PLUGIN_VERSION);
  const dirs = fs.existsSync(plugins)
    ? fs
        .readdirSync(plugins)
        .map((d) => ({ d, v: version(d.replace(/^resource-aws-v/, "")) }))
        .filter(({ d, v }) => d.startsWith("resource-aws-v7.") && atLeast(v, min))
    : [];
  for (const { d } of dirs) {
    const file = path.join(plugins, d, "pulumi-resource-aws");
    if (runnable(file)) return file;
  }
  return undefined;
}

/** Where the AWS SDK would find credentials, or undefined when it would find none. */
export function findAwsCredentials(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) return "AWS_ACCESS_KEY_ID";
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) return "AWS_WEB_IDENTITY_TOKEN_FILE";
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) {
    return "the container credentials endpoint";
  }
  const home = env.HOME ?? os.homedir();
  const files = [
    env.AWS_SHARED_CREDENTIALS_FILE ?? path.join(home, ".aws", "credentials"),
    env.AWS_CONFIG_FILE ?? path.join(home, ".aws", "config"),
  ];
  const profile = env.AWS_PROFILE ?? "default";
  for (const f of files) {
    if (!fs.existsSync(f)) continue;
    const text = fs.readFileSync(f, "utf8");
    const header = new RegExp(
      `^\\s*\\[(profile\\s+)?${profile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\]`,
      "m",
    );
    if (header.test(text)) return `profile ${profile} in ${f}`;
  }
  return undefined;
}

export function checkAwsPlugin(env: NodeJS.ProcessEnv = process.env): Check {
  const found = findAwsPlugin(env);
  return found
    ? { name: "aws provider plugin", ok: true, required: true, detail: found }
    : {
        name: "aws provider plugin",
        ok: false,
        required: true,
        detail: `pulumi-resource-aws (v${AWS_PLUGIN_VERSION} or a newer 7.x) is not installed: not on PATH, not in ${path.join(env.PULUMI_HOME ?? "~/.pulumi", "plugins")}`,
        fix: AWS_PLUGIN_FIX,
      };
}

/**
 * Advisory: credentials from an instance profile or SSO cache are found by the AWS provider but
 * not here, so a miss is a warning, never a refusal.
 */
export function checkAwsCredentials(env: NodeJS.ProcessEnv = process.env): Check {
  const found = findAwsCredentials(env);
  return found
    ? { name: "aws credentials", ok: true, required: false, detail: found }
    : {
        name: "aws credentials",
        ok: false,
        required: false,
        detail: `none found in the environment or ~/.aws (profile ${env.AWS_PROFILE ?? "default"}); an instance profile would still work`,
        fix: "aws configure (or aws sso login --profile NAME and export AWS_PROFILE=NAME)",
      };
}

/** What stops the AWS part from running at all (the plugin), as one sentence with its fix. */
export function awsProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const c = checkAwsPlugin(env);
  return c.ok ? undefined : `${c.name}: ${c.detail}; ${c.fix ?? ""}`;
}
