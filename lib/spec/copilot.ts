/**
 * What the copilot kind adds to reading a spec (lib/spec stays below lib/kinds): the environment
 * its compose file is read with, and what `infra: none` requires of the project's .env.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { EnvSpec, SpecIssue } from "./model";

/**
 * The compose variables the stack fills when it holds the AWS part, by the CopilotInfra output
 * each one is (components/copilot/infra.ts).
 */
export const INFRA_VARS = {
  TEMPORAL_SQL_HOST: "monitored_dsql_endpoint",
  COPILOT_DSQL_HOST: "copilot_dsql_endpoint",
  COPILOT_KNOWLEDGE_BASE_ID: "knowledge_base_id",
} as const;

/** The region variables, set to `copilot.region` itself. */
export const REGION_VARS = ["AWS_REGION", "TEMPORAL_SQL_AWS_REGION"] as const;

/**
 * What an infra output is read as while Compose interpolates: every value built from the
 * variable carries it (`TEMPORAL_SQL_HOST: ${COPILOT_DSQL_HOST}` in copilot-temporal, a URL
 * around it), and the program puts the output in its place.
 */
export const outputToken = (output: string): string => `__ENVCTL_OUTPUT_${output}__`;
const TOKEN_RE = /__ENVCTL_OUTPUT_([a-z0-9_]+)__/g;

/** The outputs a value is built from, in order of first use. */
export function tokensIn(value: string): string[] {
  return [...new Set([...value.matchAll(TOKEN_RE)].map((m) => m[1]!))];
}

/** `value` with each output's token replaced by its value (unknown ones left as they are). */
export function fillTokens(value: string, outputs: Record<string, string>): string {
  return value.replace(TOKEN_RE, (t: string, name: string) => outputs[name] ?? t);
}

/**
 * The environment a copilot spec's compose file is read with: when the stack holds the AWS
 * part, the infra variables as tokens and the region as given (they win over .env, as a shell
 * variable does in Compose). The platform is left alone: `${COPILOT_PLATFORM:-}` unset is no
 * platform, which Docker runs as the host's.
 */
export function copilotComposeEnv(
  copilot: { infra?: unknown; region?: unknown } | undefined,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  if ((copilot?.infra ?? "aws") !== "aws") return out;
  for (const [v, output] of Object.entries(INFRA_VARS)) out[v] = outputToken(output);
  const region = typeof copilot?.region === "string" ? copilot.region : "eu-west-1";
  for (const v of REGION_VARS) out[v] = region;
  return out;
}

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
