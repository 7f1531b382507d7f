import { UserError } from "../../core/errors";
import { engineEnv } from "../../core/toolchain";
import { awsProblem } from "../../doctor/aws";

/**
 * Refuses, before anything is made, a copilot spec whose AWS part cannot run here: no AWS
 * provider plugin where the engine looks, or no credentials (exit 1, with the fix).
 */
export function checkCopilotReady(
  spec: { kind?: string; copilot?: { infra: string } | undefined },
  verb: string,
): void {
  if (spec.kind !== "copilot" || spec.copilot?.infra !== "aws") return;
  const problem = awsProblem({ ...process.env, ...engineEnv() });
  if (problem) {
    throw new UserError(`cannot ${verb} a copilot env with copilot.infra aws: ${problem}`, 1, [
      "nothing was created; `envctl doctor -f SPEC` shows both AWS checks",
    ]);
  }
}
