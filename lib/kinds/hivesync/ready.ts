import { engineEnv } from "../../core/toolchain";
import { checkLinodeToken, linodeProblem } from "../../doctor/linode";
import { refuseUnready } from "../../doctor/plugins";

/**
 * Refuses, before anything is made, a hivesync spec whose Linode VM cannot be made here (no
 * Linode provider plugin where the engine looks: exit 1, with the fix); warns when no API token
 * is in the environment (the stack's config may hold one).
 */
export function checkHivesyncReady(
  spec: { kind?: string; hivesync?: { target: string } | undefined },
  verb: string,
  warn: (line: string) => void = () => undefined,
): void {
  if (spec.kind !== "hivesync" || spec.hivesync?.target !== "linode") return;
  const env = { ...process.env, ...engineEnv() };
  refuseUnready(
    "a hivesync env with target linode",
    verb,
    linodeProblem(env),
    checkLinodeToken(env),
    "Linode",
    warn,
  );
}
