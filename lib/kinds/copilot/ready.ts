import { UserError } from "../../core/errors";
import { engineEnv } from "../../core/toolchain";
import { awsProblem, checkAwsCredentials } from "../../doctor/aws";

/**
 * Refuses, before anything is made, a copilot spec whose AWS part cannot run here (no AWS
 * provider plugin where the engine looks: exit 1, with the fix); warns when no credentials are
 * found (an instance profile may still provide them).
 */
export function checkCopilotReady(
  spec: { kind?: string; copilot?: { infra: string } | undefined },
  verb: string,
  warn: (line: string) => void = () => undefined,
): void {
  if (spec.kind !== "copilot" || spec.copilot?.infra !== "aws") return;
  const env = { ...process.env, ...engineEnv() };
  const problem = awsProblem(env);
  if (problem) {
    throw new UserError(`cannot ${verb} a copilot env with copilot.infra aws: ${problem}`, 1, [
      "nothing was created; `envctl doctor -f SPEC` shows the AWS checks",
    ]);
  }
  const creds = checkAwsCredentials(env);
  if (!creds.ok) warn(`warning: ${creds.name}: ${creds.detail} (${creds.fix ?? ""})`);
}
