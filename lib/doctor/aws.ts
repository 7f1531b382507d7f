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

/** Where the engine finds the plugin: PATH (ambient plugins) or PULUMI_HOME's plugin cache. */
export function findAwsPlugin(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, "pulumi-resource-aws");
    if (fs.existsSync(file)) return file;
  }
  const home = env.PULUMI_HOME ?? path.join(env.HOME ?? os.homedir(), ".pulumi");
  const plugins = path.join(home, "plugins");
  const dirs = fs.existsSync(plugins)
    ? fs.readdirSync(plugins).filter((d) => /^resource-aws-v7\./.test(d))
    : [];
  for (const d of dirs.sort().reverse()) {
    const file = path.join(plugins, d, "pulumi-resource-aws");
    if (fs.existsSync(file)) return file;
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
        detail: `pulumi-resource-aws (v7) is not installed: not on PATH, not in ${path.join(env.PULUMI_HOME ?? "~/.pulumi", "plugins")}`,
        fix: AWS_PLUGIN_FIX,
      };
}

export function checkAwsCredentials(env: NodeJS.ProcessEnv = process.env): Check {
  const found = findAwsCredentials(env);
  return found
    ? { name: "aws credentials", ok: true, required: true, detail: found }
    : {
        name: "aws credentials",
        ok: false,
        required: true,
        detail: `none found (AWS_ACCESS_KEY_ID, AWS_PROFILE ${env.AWS_PROFILE ?? "default"} in ~/.aws, web identity, container endpoint)`,
        fix: "aws configure (or aws sso login --profile NAME and export AWS_PROFILE=NAME)",
      };
}

/** The first thing that stops the AWS part from running, as one sentence with its fix. */
export function awsProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const c of [checkAwsPlugin(env), checkAwsCredentials(env)]) {
    if (!c.ok) return `${c.name}: ${c.detail}; ${c.fix ?? ""}`;
  }
  return undefined;
}
