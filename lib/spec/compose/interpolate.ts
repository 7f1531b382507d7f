/**
 * Variable interpolation as compose does it: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
 * ${VAR:?err}, ${VAR?err}, ${VAR:+alt}, ${VAR+alt}, and $$ for a literal $. An unset variable
 * becomes "" with a warning; a failed `?` or a malformed reference is an error.
 */
import { type Ctx, isObj, type Path, where, type Where } from "./context";

/** Variables by name, as `process.env` has them. */
type Env = Record<string, string | undefined>;

export function interpolateTree(ctx: Ctx, v: unknown, at: Path): unknown {
  if (typeof v === "string") return interpolate(ctx, v, at, ctx.vars) ?? v;
  if (Array.isArray(v)) return v.map((x, i) => interpolateTree(ctx, x, [...at, i]));
  if (isObj(v)) {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, interpolateTree(ctx, x, [...at, k])]),
    );
  }
  return v;
}

/** The interpolated text, or undefined after reporting an error. */
export function interpolate(
  ctx: Ctx,
  text: string,
  at: Path,
  env: Env,
  loc: Where = where(ctx, at),
): string | undefined {
  try {
    return expandText(text, env, (name) =>
      ctx.out.warnings.push({ ...loc, message: `variable ${name} is not set; using ""` }),
    );
  } catch (err) {
    ctx.out.errors.push({ ...loc, message: (err as Error).message });
    return undefined;
  }
}

function expandText(text: string, env: Env, unset: (name: string) => void): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c !== "$") out += c;
    else if (next === "$") [out, i] = [out + "$", i + 1];
    else if (next === "{") {
      let depth = 1;
      let end = i + 2;
      for (; end < text.length && depth > 0; end++) {
        if (text[end] === "{") depth++;
        else if (text[end] === "}") depth--;
      }
      if (depth > 0) throw new Error(`unclosed "\${" in ${JSON.stringify(text)}`);
      out += expandRef(text.slice(i + 2, end - 1), env, unset);
      i = end - 1;
    } else {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0];
      if (!name) out += c;
      else {
        if (env[name] === undefined) unset(name);
        out += env[name] ?? "";
        i += name.length;
      }
    }
  }
  return out;
}

function expandRef(body: string, env: Env, unset: (name: string) => void): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!m) throw new Error(`invalid variable reference "\${${body}}"`);
  const [, name = "", op, arg = ""] = m;
  const value = env[name];
  const set = value !== undefined;
  const given = op?.startsWith(":") ? set && value !== "" : set;
  const nested = (): string => expandText(arg, env, unset);
  switch (op) {
    case undefined:
      if (!set) unset(name);
      return value ?? "";
    case ":-":
    case "-":
      return given ? value! : nested();
    case ":+":
    case "+":
      return given ? nested() : "";
    default:
      if (!given) throw new Error(`variable ${name} is required${arg ? `: ${nested()}` : ""}`);
      return value!;
  }
}
