/**
 * A hivesync env's secrets never reach stack config, the catalog or a log in plain text. Each
 * secret variable's value is swapped for an output token (lib/spec/copilot.ts `outputToken`)
 * in the resolved env; the values themselves go into the stack's secret config
 * `envctl:secrets` (encrypted with the stack's passphrase), and the program fills the tokens
 * from it as Pulumi secrets. A value that appears inside another variable (a password in a
 * DATABASE_URL) is swapped there too.
 */
import { outputToken } from "../../spec/copilot";
import { isSecretVar } from "../../spec/hivesync";
import type { ResolvedService } from "../../spec/model";

/** Values this short are not searched for inside other values ("1" would match everywhere). */
const MIN_EMBEDDED = 6;

export interface SplitSecrets {
  /** The services with every secret value replaced by its token. */
  services: ResolvedService[];
  /** Token name -> value: what `envctl:secrets` holds. */
  values: Record<string, string>;
  /** Token name -> the variable it was read from (for messages). */
  vars: Record<string, string>;
  /** Token names filled by generated secrets, by variable. */
  generated: Record<string, string>;
}

const tokenName = (prefix: string, v: string): string =>
  `${prefix}_${v.toLowerCase().replace(/[^a-z0-9]+/g, "_")}`;

/**
 * Splits the secrets out of `services`. `extra` names more secret variables; `generate` names
 * variables whose value comes from a generated secret instead (whatever the env file says).
 */
export function splitSecrets(
  services: ResolvedService[],
  extra: readonly string[] = [],
  generate: readonly string[] = [],
): SplitSecrets {
  const values: Record<string, string> = {};
  const vars: Record<string, string> = {};
  const generated: Record<string, string> = {};
  const byValue = new Map<string, string>();
  // One token per distinct (variable, value): backend and worker reading one env file share it.
  const tokenFor = (v: string, value: string): string => {
    const known = byValue.get(`${v}\0${value}`);
    if (known) return known;
    let t = tokenName("secret", v);
    for (let n = 2; t in values; n++) t = `${tokenName("secret", v)}_${n}`;
    values[t] = value;
    vars[t] = v;
    byValue.set(`${v}\0${value}`, t);
    return t;
  };
  const first = services.map((s) => {
    if (s.type !== "container") return s;
    const env: Record<string, string> = {};
    for (const [k, value] of Object.entries(s.env)) {
      if (generate.includes(k)) {
        generated[k] = tokenName("generated", k);
        env[k] = outputToken(generated[k]);
      } else if (isSecretVar(k, extra) && value !== "") {
        env[k] = outputToken(tokenFor(k, value));
      } else {
        env[k] = value;
      }
    }
    return { ...s, env };
  });
  // Longest first, so a secret that contains another is swapped whole.
  const embedded = Object.entries(values)
    .filter(([, v]) => v.length >= MIN_EMBEDDED)
    .sort((a, b) => b[1].length - a[1].length);
  const out = first.map((s) => {
    if (s.type !== "container" || embedded.length === 0) return s;
    const env = Object.fromEntries(
      Object.entries(s.env).map(([k, value]) => {
        let v = value;
        for (const [t, secret] of embedded) v = v.split(secret).join(outputToken(t));
        return [k, v];
      }),
    );
    return { ...s, env };
  });
  return { services: out, values, vars, generated };
}
