/**
 * What Compose will read for a project, read by envctl first: the files given, the project's
 * `.env`, and the files they include, extend or take env_file / label_file from. A file that
 * would hang Compose or keep it busy (a FIFO or device, more than a megabyte, an alias bomb,
 * nesting thousands deep) or that holds what no container takes (binary bytes, a NUL) is refused
 * here, at the dot-path that names it; everything else is left to Compose, which says what is
 * wrong in its own words. What was read keys the cache of Compose's output.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { dotPath } from "../../core/dot-path";
import { parseYaml, readTextFile } from "../read";
import type { SpecIssue as ComposeIssue } from "../model";

export interface Inputs {
  /** Each file read, in the order found, with its text (undefined: missing, or a directory). */
  texts: Map<string, string | undefined>;
  /** Names of the variables the files mention (`$NAME`, `${NAME...}`). */
  names: Set<string>;
  /** A file is named with a variable, which only Compose resolves: the result is not cached. */
  unknowable: boolean;
  /** The compose files' data (for locating what Compose names without a path). */
  docs: Map<string, unknown>;
  /** Where each file besides the given ones was named. */
  refs: Ref[];
}

interface Ref {
  file: string;
  /** Where it is named: the dot-path, in `from` (relative to the project); "" for the project's own. */
  at: string;
  from?: string;
  yaml: boolean;
}

export function readInputs(files: string[], dir: string): Inputs | { error: ComposeIssue } {
  const rel = (f: string): string => path.relative(dir, f) || f;
  const inputs: Inputs = {
    texts: new Map(),
    names: new Set(),
    unknowable: false,
    docs: new Map(),
    refs: [],
  };
  const queue: Ref[] = [
    ...files.map((file) => ({ file, at: "", yaml: true })),
    { file: path.join(dir, ".env"), at: "", yaml: false },
  ];
  for (let ref = queue.shift(); ref; ref = queue.shift()) {
    if (inputs.texts.has(ref.file)) continue;
    const read = readTextFile(ref.file);
    if (!("text" in read)) {
      inputs.texts.set(ref.file, undefined);
      // Compose says a missing file (when it is required) or a directory is wrong, in its words.
      if (read.kind === "missing" || read.kind === "directory") continue;
      return {
        error: {
          path: ref.at,
          message: `cannot read ${rel(ref.file)}: ${read.reason}`,
          ...(ref.from !== undefined ? { file: ref.from } : {}),
        },
      };
    }
    inputs.texts.set(ref.file, read.text);
    for (const m of read.text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) inputs.names.add(m[1]!);
    if (!ref.yaml) continue;
    const parsed = parseYaml(read.text, { merge: true });
    if ("problem" in parsed) {
      const { line, path: at = "", message } = parsed.problem;
      // A syntax error or a key written twice is Compose's to explain; these would stall it.
      if (!/nested too deeply|Excessive alias|NUL/.test(message)) continue;
      return { error: { path: at, message, file: rel(ref.file), ...(line ? { line } : {}) } };
    }
    inputs.docs.set(ref.file, parsed.data);
    const refs = referencedFiles(parsed.data, path.dirname(ref.file), dir);
    if (refs === undefined) inputs.unknowable = true;
    else {
      const found = refs.map((r) => ({ ...r, from: rel(ref.file) }));
      inputs.refs.push(...found);
      queue.push(...found);
    }
  }
  return inputs;
}

/**
 * Compose names some problems by value only (`invalid hostPort: 99999`, `env file x.env not
 * found`): the field that holds the value, found in what was read. Others are left as they are.
 */
export function locate(issue: ComposeIssue, inputs: Inputs, dir: string): ComposeIssue {
  if (issue.path !== "") return issue;
  const rel = (f: string): string => path.relative(dir, f) || f;
  const port = /^invalid (?:hostPort|containerPort|proto): (.+)$/.exec(issue.message)?.[1];
  if (port !== undefined) {
    for (const [file, data] of inputs.docs) {
      const services = isObj(data) && isObj(data.services) ? data.services : {};
      for (const [name, svc] of Object.entries(services)) {
        const ports = isObj(svc) && Array.isArray(svc.ports) ? (svc.ports as unknown[]) : [];
        const i = ports.findIndex((p) => JSON.stringify(p).includes(port));
        if (i >= 0)
          return { ...issue, path: dotPath(["services", name, "ports", i]), file: rel(file) };
      }
    }
    return issue;
  }
  const env = /^(?:env file (.+?) not found|failed to read (.+?): (?:line (\d+): )?(.*))/.exec(
    issue.message,
  );
  if (!env) return issue;
  const file = path.resolve(dir, env[1] ?? env[2]!);
  // A line of an env file: that line says it best; otherwise the env_file entry naming it.
  if (env[3] !== undefined)
    return { path: "", message: env[4]!, file: rel(file), line: Number(env[3]) };
  const ref = inputs.refs.find((r) => r.file === file);
  return ref
    ? { ...issue, path: ref.at, ...(ref.from !== undefined ? { file: ref.from } : {}) }
    : issue;
}

/**
 * Service names in the order the files write them: the given files' in turn, then those of
 * the files they include (or extend), each name where it first appears.
 */
export function serviceOrder(inputs: Inputs): string[] {
  const names = new Set<string>();
  for (const data of inputs.docs.values()) {
    if (isObj(data) && isObj(data.services))
      for (const n of Object.keys(data.services)) names.add(n);
  }
  return [...names];
}

/** Everything Compose's output depends on, hashed; undefined when that cannot be known. */
export function cacheKey(
  bin: string,
  args: string[],
  dir: string,
  env: NodeJS.ProcessEnv,
  inputs: Inputs,
): string | undefined {
  if (inputs.unknowable) return undefined;
  let st: fs.Stats;
  try {
    st = fs.statSync(bin);
  } catch {
    return undefined;
  }
  const h = createHash("sha256");
  h.update(JSON.stringify([bin, st.size, st.mtimeMs, args, dir]));
  for (const [file, text] of inputs.texts) h.update(`${file}\0${text ?? "\0missing"}\0`);
  const vars = Object.keys(env)
    .filter((k) => inputs.names.has(k) || k.startsWith("COMPOSE_") || k.startsWith("DOCKER_"))
    .sort()
    .map((k) => [k, env[k]]);
  h.update(JSON.stringify(vars));
  return h.digest("hex");
}

/**
 * Files a compose file makes Compose read: `include` (and an include's env files, with its
 * project directory's `.env`), `extends.file`, `env_file`, `label_file`. Undefined when one is
 * written with a variable.
 */
function referencedFiles(
  data: unknown,
  dir: string,
  projectDir: string,
): Omit<Ref, "from">[] | undefined {
  if (!isObj(data)) return [];
  const out: Omit<Ref, "from">[] = [];
  let unknowable = false;
  const add = (p: unknown, at: string, yaml: boolean, base = dir): void => {
    if (typeof p !== "string") return;
    if (p.includes("$")) unknowable = true;
    // Relative to the file or to the project, depending on how the file was reached: take both.
    else {
      for (const file of new Set([path.resolve(base, p), path.resolve(projectDir, p)])) {
        out.push({ file, at, yaml });
      }
    }
  };
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  /** The dot-path of entry `i` of `v`, a list or the one value written instead of one. */
  const at = (v: unknown, i: number, ...keys: (string | number)[]): string =>
    dotPath([...keys, ...(Array.isArray(v) ? [i] : [])]);
  list(data.include).forEach((inc, i) => {
    const where = at(data.include, i, "include");
    if (typeof inc === "string") {
      add(inc, where, true);
      add(".env", where, false, path.dirname(path.resolve(dir, inc)));
    } else if (isObj(inc)) {
      list(inc.path).forEach((p, j) => add(p, `${where}.${at(inc.path, j, "path")}`, true));
      list(inc.env_file).forEach((p, j) =>
        add(p, `${where}.${at(inc.env_file, j, "env_file")}`, false),
      );
      const first = list(inc.path)[0];
      const incDir =
        typeof inc.project_directory === "string"
          ? path.resolve(dir, inc.project_directory)
          : typeof first === "string"
            ? path.dirname(path.resolve(dir, first))
            : dir;
      add(".env", where, false, incDir);
    }
  });
  if (isObj(data.services)) {
    for (const [name, svc] of Object.entries(data.services)) {
      if (!isObj(svc)) continue;
      if (isObj(svc.extends))
        add(svc.extends.file, dotPath(["services", name, "extends", "file"]), true);
      for (const key of ["env_file", "label_file"]) {
        list(svc[key]).forEach((e, i) =>
          add(isObj(e) ? e.path : e, at(svc[key], i, "services", name, key), false),
        );
      }
    }
  }
  return unknowable ? undefined : out;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);
