import { engineVars, homeProject } from "../../lib/engine/automation";
import { shellQuote } from "../../lib/core/shell";
import { seams, type CommandSeams } from "../context";

export interface EnvOptions extends CommandSeams {
  json?: boolean;
}

/** Secrets are never printed: a passphrase from the environment is already in the caller's shell. */
const SECRET_VARS = new Set(["PULUMI_CONFIG_PASSPHRASE"]);

/**
 * Prints what makes `pulumi` by hand see envctl's stacks, for `eval "$(envctl env)"`: the engine
 * exports, then a `cd` into this home's project directory (Pulumi.yaml and the stacks' settings
 * files live there, not in the envctl installation). `--json` gives the variables, the
 * directory as ENVCTL_PROJECT.
 */
export function env(opts: EnvOptions): { vars: Record<string, string>; project: string } {
  const s = seams(opts);
  const vars = Object.fromEntries(
    Object.entries(engineVars(s.home)).filter(([k]) => !SECRET_VARS.has(k)),
  );
  const project = homeProject(s.home);
  s.out(
    opts.json
      ? JSON.stringify({ ...vars, ENVCTL_PROJECT: project }, null, 2)
      : [
          ...Object.entries(vars).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
          `export ENVCTL_PROJECT=${shellQuote(project)}`,
          "# pulumi reads the project and its stacks' settings from the current directory",
          `cd ${shellQuote(project)}`,
        ].join("\n"),
  );
  return { vars, project };
}
