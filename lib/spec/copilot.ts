/**
 * What the copilot kind adds to reading a spec (lib/spec stays below lib/kinds): the platform
 * its compose file is read with, and what `infra: none` requires of the project's .env.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { EnvSpec, SpecIssue } from "./model";

/**
 * Every service carries `platform: ${COPILOT_PLATFORM}` (the document pins linux/arm64 on each);
 * unset, it is this host's platform, so one file runs on an arm64 laptop and an amd64 runner.
 */
export function hostPlatform(arch: string = process.arch): string {
  const docker: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm/v7" };
  return `linux/${docker[arch] ?? arch}`;
}

export function copilotComposeEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return env.COPILOT_PLATFORM ? env : { ...env, COPILOT_PLATFORM: hostPlatform() };
}

/** Container variables the AWS components fill, by the CopilotInfra output that feeds them. */
export const INFRA_VARS = {
  TEMPORAL_SQL_HOST: "monitored_dsql_endpoint",
  COPILOT_DSQL_HOST: "copilot_dsql_endpoint",
  COPILOT_KNOWLEDGE_BASE_ID: "knowledge_base_id",
  AWS_REGION: "region",
  TEMPORAL_SQL_AWS_REGION: "region",
} as const;

/** Without the infra, the services cannot start unless `.env` names these. */
export const REQUIRED_WITHOUT_INFRA = ["TEMPORAL_SQL_HOST", "COPILOT_DSQL_HOST"] as const;

/**
 * One error per required variable left empty, at the first service that reads it. `composeDir`
 * is where Compose looked for `.env`.
 */
export function copilotIssues(spec: EnvSpec, composeDir: string): SpecIssue[] {
  if (spec.kind !== "copilot" || spec.copilot?.infra !== "none") return [];
  const envFile = path.join(composeDir, ".env");
  const hasEnv = fs.existsSync(envFile);
  const out: SpecIssue[] = [];
  for (const name of REQUIRED_WITHOUT_INFRA) {
    const readers = spec.services.filter((s) => name in s.env && !s.env[name]);
    if (readers.length === 0) continue;
    const others = readers.length > 1 ? ` (and ${readers.length - 1} other services)` : "";
    const fix = hasEnv
      ? `set ${name} in ${envFile}`
      : `${envFile} is missing: copy .env.example to .env and set ${name}`;
    out.push({
      path: `services.${readers[0]!.name}.env.${name}`,
      message: `is empty${others}: with copilot.infra none the DSQL endpoints come from .env; ${fix} (or use copilot.infra aws)`,
    });
  }
  return out;
}
