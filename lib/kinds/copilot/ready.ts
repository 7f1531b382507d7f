import { engineEnv } from "../../core/toolchain";
import { awsProblem, checkAwsCredentials } from "../../doctor/aws";
import { refuseUnready } from "../../doctor/plugins";

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
  refuseUnready(
    "a copilot env with copilot.infra aws",
    verb,
    awsProblem(env),
    checkAwsCredentials(env),
    "AWS",
    warn,
  );
}
