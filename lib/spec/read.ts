/**
 * Reading the files a spec is made of (envctl.yaml, compose files, env files) and parsing their
 * YAML, so that no file can hang envctl (a FIFO), exhaust it (20 MB, an alias bomb, nesting a
 * hundred thousand deep) or be echoed back (binary bytes): each becomes one issue instead.
 */
import * as fs from "node:fs";
import { isMap, isPair, isScalar, isSeq, parseDocument, type Node } from "yaml";
import { dotPath } from "../core/dot-path";

/** The largest spec, compose or env file envctl reads; real ones are a few kilobytes. */
export const SPEC_FILE_MAX_BYTES = 1024 * 1024;
/**
 * The deepest nesting a document may have; real ones stay under ten. The YAML parser recurses
 * per level, and deep enough input can abort the process from inside V8, which no catch sees.
 */
export const YAML_MAX_DEPTH = 128;

export type ReadFailure = {
  /** Why, after "cannot read FILE: ". */
  reason: string;
  /** `missing` and `directory` let optional files (a project's .env) be skipped. */
  kind: "missing" | "directory" | "other";
};

/** A text file's content, or why it is not one envctl reads. */
export function readTextFile(file: string): { text: string } | ReadFailure {
  let fd: number;
  try {
    // Non-blocking, so a FIFO opens at once (and is refused below) instead of waiting for a writer.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    return openFailure(err);
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) return { reason: "is a directory", kind: "directory" };
    if (!st.isFile())
      return { reason: "is not a regular file (a FIFO, socket or device)", kind: "other" };
    if (st.size > SPEC_FILE_MAX_BYTES) {
      const mb = (st.size / 1024 / 1024).toFixed(1);
      return { reason: `is too large (${mb} MB; envctl reads at most 1 MB)`, kind: "other" };
    }
    const bytes = fs.readFileSync(fd);
    if (bytes.includes(0)) return { reason: "is a binary file, not text", kind: "other" };
    try {
      return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
    } catch {
      return { reason: "is not UTF-8 text", kind: "other" };
    }
  } catch (err) {
    return openFailure(err);
  } finally {
    fs.closeSync(fd);
  }
}

function openFailure(err: unknown): ReadFailure {
  switch ((err as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return { reason: "no such file", kind: "missing" };
    case "ENOTDIR":
      return { reason: "no such file (a parent is not a directory)", kind: "missing" };
    case "ELOOP":
      return { reason: "a symlink loop", kind: "other" };
    case "ENAMETOOLONG":
      return { reason: "the name is too long", kind: "other" };
    case "EISDIR":
      return { reason: "is a directory", kind: "directory" };
    case "EACCES":
    case "EPERM":
      return { reason: "permission denied", kind: "other" };
    default:
      return { reason: err instanceof Error ? err.message : String(err), kind: "other" };
  }
}

/** A YAML document that did not parse: where (line and column, or a key's dot-path) and why. */
export interface YamlProblem {
  line?: number;
  column?: number;
  /** The key at fault, for a key written twice. */
  path?: string;
  message: string;
}

/**
 * The document's data and YAML's warnings (first lines), or its first problem: syntax, a key
 * written twice, a NUL character in a string.
 */
export function parseYaml(
  text: string,
  opts: { merge?: boolean } = {},
): { data: unknown; warnings: string[] } | { problem: YamlProblem } {
  const deep = tooDeep(text);
  if (deep !== undefined) {
    return {
      problem: { line: deep, message: `nested too deeply (more than ${YAML_MAX_DEPTH} levels)` },
    };
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, merge: opts.merge });
  const err = doc.errors[0];
  if (err) {
    if (err.code === "DUPLICATE_KEY") {
      const dup = duplicateKey(text, err.pos[0], opts.merge);
      if (dup) return { problem: dup };
    }
    const pos = err.linePos?.[0];
    return {
      problem: {
        ...(pos ? { line: pos.line, column: pos.col } : {}),
        message: `invalid YAML: ${yamlReason(err.message)}`,
      },
    };
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (e) {
    return { problem: { message: `invalid YAML: ${yamlReason((e as Error).message)}` } };
  }
  const nul = nulAt(data, []);
  if (nul) return { problem: { path: dotPath(nul), message: "must not contain NUL characters" } };
  return { data, warnings: doc.warnings.map((w) => w.message.split("\n")[0]!) };
}

function yamlReason(message: string): string {
  const first = message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
  return /Maximum call stack size exceeded/.test(first) ? "nested too deeply" : first;
}

/**
 * The line where the document's nesting passes {@link YAML_MAX_DEPTH}, counted generously
 * before parsing: indentation levels plus `- ` entries, and open `[`/`{` outside quotes and
 * comments. Undefined when it never does.
 */
function tooDeep(text: string): number | undefined {
  const indents: number[] = [];
  let flow = 0;
  let quote: "'" | '"' | undefined;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    let i = 0;
    if (quote === undefined && flow === 0) {
      const content = /^( *)((?:[-?:] +)*)(.?)/.exec(line)!;
      if (content[3] !== "" && content[3] !== "#") {
        const indent = content[1]!.length;
        while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
        indents.push(indent);
        if (indents.length + content[2]!.split(/ +/).length - 1 > YAML_MAX_DEPTH) return n + 1;
      }
    }
    for (; i < line.length; i++) {
      const c = line[i]!;
      if (quote === '"') {
        if (c === "\\") i++;
        else if (c === '"') quote = undefined;
      } else if (quote === "'") {
        if (c === "'") quote = undefined;
      } else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(line[i - 1]!))) {
        quote = c;
      } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) break;
      else if (c === "[" || c === "{") {
        if (++flow + indents.length > YAML_MAX_DEPTH) return n + 1;
      } else if ((c === "]" || c === "}") && flow > 0) flow--;
    }
  }
  return undefined;
}

/** The key written twice whose second copy starts at `offset`: its dot-path and both lines. */
function duplicateKey(text: string, offset: number, merge?: boolean): YamlProblem | undefined {
  const doc = parseDocument(text, { uniqueKeys: false, merge });
  const lineOf = (pos: number): number => text.slice(0, pos).split("\n").length;
  let found: YamlProblem | undefined;
  const walk = (node: unknown, at: PropertyKey[]): void => {
    if (found) return;
    if (isMap(node)) {
      const seen = new Map<unknown, Node>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? pair.key.value : String(pair.key);
        const first = seen.get(key);
        const range = (pair.key as Node | null)?.range;
        if (first && range && range[0] === offset) {
          const lines = `line ${lineOf(first.range?.[0] ?? 0)} and line ${lineOf(range[0])}`;
          found = { path: dotPath([...at, String(key)]), message: `is defined twice (${lines})` };
          return;
        }
        if (pair.key) seen.set(key, pair.key as Node);
        walk(pair.value, [...at, String(key)]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...at, i]));
    }
  };
  walk(doc.contents, []);
  return found;
}

/** The path of the first string (or key) holding a NUL character, which no program accepts. */
function nulAt(v: unknown, at: PropertyKey[]): PropertyKey[] | undefined {
  if (typeof v === "string") return v.includes("\0") ? at : undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const hit = nulAt(v[i], [...at, i]);
      if (hit) return hit;
    }
  } else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (k.includes("\0")) return [...at, k];
      const hit = nulAt(x, [...at, k]);
      if (hit) return hit;
    }
  }
  return undefined;
}
