/**
 * A service's variables: `environment` (and `build.args`, which take the same forms) and
 * `env_file`, read from disk and parsed the way compose parses env files.
 */
import * as path from "node:path";
import { readTextFile } from "../read";
import { describeValue } from "../schema";
import { type Ctx, fail, hostPath, isObj, type Path, warn } from "./context";
import { interpolate } from "./interpolate";

/** `environment` / `build.args`: a mapping or a list of `KEY=VALUE`; a bare KEY reads the shell's. */
export function envList(ctx: Ctx, at: Path, v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (key: string, value: unknown, kat: Path): void => {
    if (!key) return fail(ctx, kat, "names must not be empty");
    if (value === null || value === undefined) {
      const fromEnv = ctx.vars[key];
      if (fromEnv !== undefined) out[key] = fromEnv;
      else warn(ctx, kat, `"${key}" has no value and is not set in the environment; dropped`);
    } else if (
      typeof value === "string" ||
      typeof value === "number" ||
      typeof value === "boolean"
    ) {
      out[key] = String(value);
    } else fail(ctx, kat, `must be a string, number or boolean, got ${describeValue(value)}`);
  };
  if (isObj(v)) for (const [k, x] of Object.entries(v)) put(k, x, [...at, k]);
  else if (Array.isArray(v)) {
    v.forEach((item, i) => {
      if (typeof item !== "string")
        return fail(ctx, [...at, i], `must be KEY=VALUE, got ${describeValue(item)}`);
      const eq = item.indexOf("=");
      put(eq < 0 ? item : item.slice(0, eq), eq < 0 ? null : item.slice(eq + 1), [...at, i]);
    });
  } else if (v !== null) {
    fail(ctx, at, `must be a mapping or a list of KEY=VALUE, got ${describeValue(v)}`);
  }
  return out;
}

export function envFiles(ctx: Ctx, at: Path, v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const list: unknown[] | undefined =
    typeof v === "string" || isObj(v) ? [v] : Array.isArray(v) ? v : undefined;
  if (!list) {
    fail(ctx, at, `must be a file or a list of files, got ${describeValue(v)}`);
    return out;
  }
  list.forEach((entry, i) => {
    const eat = Array.isArray(v) ? [...at, i] : at;
    const spec = typeof entry === "string" ? { path: entry } : entry;
    if (!isObj(spec) || typeof spec.path !== "string") {
      return fail(ctx, eat, 'must be a file or a mapping with "path" and "required"');
    }
    const file = hostPath(ctx.dir, spec.path);
    const read = readTextFile(file);
    if (!("text" in read)) {
      if (spec.required === false && read.kind === "missing") return;
      return fail(ctx, eat, `cannot read ${file}: ${read.reason}`);
    }
    Object.assign(out, parseEnvFile(ctx, read.text, path.basename(file), out));
  });
  return out;
}

/**
 * The project's variables as compose sees them: `<dir>/.env` when there is one (read like an
 * env_file, its values interpolated against the shell), with the shell's environment winning.
 */
export function projectVars(dir: string, out: Ctx["out"]): Ctx["vars"] {
  const file = path.join(dir, ".env");
  const read = readTextFile(file);
  if (!("text" in read)) {
    if (read.kind === "missing" || read.kind === "directory") return { ...process.env };
    out.errors.push({ file: ".env", path: "", message: `cannot read ${file}: ${read.reason}` });
    return { ...process.env };
  }
  const ctx: Ctx = { base: ".env", dir, out, vars: process.env };
  return { ...parseEnvFile(ctx, read.text, ".env", {}), ...process.env };
}

/** `KEY=VALUE` lines: `#` comments, `export ` prefixes, single or double quotes. */
function parseEnvFile(
  ctx: Ctx,
  text: string,
  name: string,
  earlier: Record<string, string>,
): Record<string, string> {
  const vars: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, n) => {
    const at = { file: name, line: n + 1, path: "" };
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*(.*))?$/.exec(trimmed);
    if (!m) return void ctx.out.errors.push({ ...at, message: "must be KEY=VALUE" });
    const [, key = "", raw] = m;
    const env = { ...ctx.vars, ...earlier, ...vars };
    if (raw === undefined) {
      if (env[key] !== undefined) vars[key] = env[key];
      else
        ctx.out.warnings.push({
          ...at,
          message: `"${key}" has no value and is not set in the environment; dropped`,
        });
      return;
    }
    const q = raw[0];
    if (q === "'" || q === '"') {
      const end = q === "'" ? raw.indexOf("'", 1) : closingDoubleQuote(raw);
      if (end < 0) return void ctx.out.errors.push({ ...at, message: "unterminated quote" });
      const body = raw.slice(1, end);
      vars[key] = q === "'" ? body : (interpolate(ctx, unescapeDouble(body), [], env, at) ?? body);
    } else {
      vars[key] = interpolate(ctx, raw.replace(/\s+#.*$/, ""), [], env, at) ?? raw;
    }
  });
  return vars;
}

function closingDoubleQuote(s: string): number {
  for (let i = 1; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === '"') return i;
  }
  return -1;
}

function unescapeDouble(s: string): string {
  const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
  return s.replace(/\\(.)/g, (whole, c: string) => map[c] ?? whole);
}
