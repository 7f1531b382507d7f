import { engineVars } from "../../lib/engine/automation";
import { shellQuote } from "../../lib/core/shell";
import { seams, type CommandSeams } from "../context";

export interface EnvOptions extends CommandSeams {
  json?: boolean;
}

/** Secrets are never printed: a passphrase from the environment is already in the caller's shell. */
const SECRET_VARS = new Set(["PULUMI_CONFIG_PASSPHRASE"]);

/** Prints the exports that make `pulumi` by hand see envctl's stacks: `eval "$(envctl env)"`. */
export function env(opts: EnvOptions): Record<string, string> {
  const s = seams(opts);
  const vars = Object.fromEntries(
    Object.entries(engineVars(s.home)).filter(([k]) => !SECRET_VARS.has(k)),
  );
  s.out(
    opts.json
      ? JSON.stringify(vars, null, 2)
      : Object.entries(vars)
          .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
          .join("\n"),
  );
  return vars;
}
