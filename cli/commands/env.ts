import { engineVars } from "../../lib/automation";
import { seams, type CommandSeams } from "../context";

export interface EnvOptions extends CommandSeams {
  json?: boolean;
}

const quote = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;

/** Prints the exports that make `pulumi` by hand see envctl's stacks: `eval "$(envctl env)"`. */
export function env(opts: EnvOptions): Record<string, string> {
  const s = seams(opts);
  const vars = engineVars(s.home);
  s.out(
    opts.json
      ? JSON.stringify(vars, null, 2)
      : Object.entries(vars)
          .map(([k, v]) => `export ${k}=${quote(v)}`)
          .join("\n"),
  );
  return vars;
}
