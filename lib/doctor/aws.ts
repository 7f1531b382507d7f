/**
 * What a copilot env with `infra: aws` needs besides envctl's own toolchain: the AWS provider
 * plugin (Pulumi loads it to make the DSQL clusters and the knowledge base) and credentials the
 * AWS SDK finds. Both are read from the filesystem and environment alone, so `up`, `preview`,
 * `doctor` and the program itself can check them without starting anything.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findPlugin, pluginCheck, problemOf } from "./plugins";
import type { Check } from "./types";

/** The provider the program's `@pulumi/aws` (package.json) asks the engine for. */
export const AWS_PLUGIN_VERSION = "7.48.0";

export const AWS_PLUGIN_FIX =
  `pulumi plugin install resource aws v${AWS_PLUGIN_VERSION} (needs internet), or put ` +
  `pulumi-resource-aws on PATH; or run the env with copilot.infra none and the endpoints in .env`;

/** Where the engine finds the AWS plugin (lib/doctor/plugins.ts). */
export function findAwsPlugin(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findPlugin("aws", AWS_PLUGIN_VERSION, env);
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
  return pluginCheck("aws", AWS_PLUGIN_VERSION, AWS_PLUGIN_FIX, env);
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
  return problemOf(checkAwsPlugin(env));
}
