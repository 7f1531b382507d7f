/**
 * /bin/sh words both ways: quoting a value as one word (`shellQuote`), and splitting a command
 * line into words (`shellWords`), either plainly (compose's string `command`, no shell runs) or
 * at operators into simple commands (what `sh -c` would run, for validate's program checks).
 */

/** Characters that never need quoting: a word made only of these reads the same bare. */
const SAFE_RE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * `v` as exactly one shell word, single-quoted (a `'` inside becomes `'\''`). `minimal` leaves
 * shell-safe words bare, so generated files (env.sh, health commands) read as if hand-written.
 */
export function shellQuote(v: string, opts: { minimal?: boolean } = {}): string {
  if (opts.minimal && SAFE_RE.test(v)) return v;
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/** One word of a command line; `dynamic` when the shell (or a template) decides its value. */
export interface Word {
  text: string;
  dynamic: boolean;
}

export interface ShellWords {
  /**
   * The simple commands, each a list of unquoted words. Without `operators` there is at most
   * one: the whole line.
   */
  commands: Word[][];
  /** A quote was still open at the end (its text runs to the end of the line). */
  unterminated: boolean;
}

/**
 * Splits a command line into words: single and double quotes, backslashes, no expansion.
 *
 * With `operators` it reads the line as `/bin/sh` would to find what it runs: simple commands
 * end at `&&`, `||`, `;`, `|`, `&`, newlines and parentheses; redirections and `#` comments are
 * dropped; `$(...)`, backticks and `{{...}}` templates stay one dynamic word, and any `$` makes
 * its word dynamic; backslash-newline continues the line. Not a full shell parser (no
 * here-documents, no aliases). Without it every other character is part of a word and any
 * whitespace separates words, as compose splits a string `command`.
 */
export function shellWords(line: string, opts: { operators?: boolean } = {}): ShellWords {
  const ops = opts.operators ?? false;
  const commands: Word[][] = [];
  let cmd: Word[] = [];
  let text = "";
  let inWord = false;
  let dynamic = false;
  let unterminated = false;
  let redirect = false; // the next word is a redirection target
  const endWord = (): void => {
    if (inWord) {
      if (redirect) redirect = false;
      else cmd.push({ text, dynamic });
    }
    text = "";
    inWord = false;
    dynamic = false;
  };
  const endCmd = (): void => {
    endWord();
    redirect = false;
    if (cmd.length > 0) commands.push(cmd);
    cmd = [];
  };
  /** Index of the characters that close a `$(`/`{{` group opened before `from`. */
  const closing = (from: number, open: string, close: string): number => {
    let depth = 1;
    for (let j = from; j < line.length; j++) {
      if (line.startsWith(open, j)) depth++;
      else if (line.startsWith(close, j) && --depth === 0) return j;
    }
    return line.length;
  };
  const isSpace = (c: string): boolean => (ops ? c === " " || c === "\t" : /\s/.test(c));
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) unterminated = true;
      const stop = end < 0 ? line.length : end;
      text += line.slice(i + 1, stop);
      inWord = true;
      i = stop;
    } else if (c === '"') {
      inWord = true;
      for (i++; i < line.length && line[i] !== '"'; i++) {
        const d = line[i]!;
        if (d === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) {
          text += line[++i];
        } else {
          if (d === "$" || d === "`") dynamic = true;
          text += d;
        }
      }
      if (i >= line.length) unterminated = true;
    } else if (c === "\\") {
      const next = line[i + 1];
      // sh joins the lines at an escaped newline; compose keeps the newline as a character
      if (!(ops && next === "\n")) {
        text += next ?? c;
        inWord = true;
      }
      i++;
    } else if (isSpace(c)) {
      endWord();
    } else if (!ops) {
      text += c;
      inWord = true;
    } else if (line.startsWith("{{", i) || line.startsWith("$(", i) || c === "`") {
      const [open, close] = c === "`" ? ["\0", "`"] : c === "{" ? ["{{", "}}"] : ["(", ")"];
      const end = closing(i + (c === "`" ? 1 : 2), open, close);
      text += line.slice(i, end + close.length);
      inWord = true;
      dynamic = true;
      i = end + close.length - 1;
    } else if (c === "$") {
      text += c;
      inWord = true;
      dynamic = true;
    } else if (c === "#" && !inWord) {
      while (i + 1 < line.length && line[i + 1] !== "\n") i++;
    } else if (c === ">" || c === "<" || (c === "&" && line[i + 1] === ">")) {
      if (inWord && /^\d+$/.test(text)) {
        text = ""; // a file descriptor number: `2>`
        inWord = false;
      } else endWord();
      while (i + 1 < line.length && "<>&|".includes(line[i + 1]!)) i++;
      redirect = true;
      // `2>&1`: the target is the descriptor right after, read as the next word
    } else if ("\n;&|()".includes(c)) {
      endCmd();
    } else {
      text += c;
      inWord = true;
    }
  }
  endCmd();
  return { commands, unterminated };
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A `/bin/sh -c` script that sources `envFile` (failing if it cannot) and then runs `cmd`, with
 * the variables named in `keep` back at the values they had before: a service's own variables
 * win over env.sh's env-wide exports. Only names go into the script (it is visible in `ps`);
 * the values stay in the environment the shell starts with.
 */
export function sourceThen(
  envFile: string,
  cmd: string,
  keep: string[] = [],
  opts: { quiet?: boolean } = {},
): string {
  const names = keep.filter((n) => NAME_RE.test(n));
  const saved = (n: string): string => `__envctl_keep_${n}`;
  const source = `. ${shellQuote(envFile)}${opts.quiet ? " >/dev/null 2>&1" : ""} || exit 1`;
  if (names.length === 0) return `${source}\n${cmd}`;
  return [
    names.map((n) => `${saved(n)}=$${n}`).join(" "),
    source,
    `export ${names.map((n) => `${n}="$${saved(n)}"`).join(" ")}`,
    `unset ${names.map(saved).join(" ")}`,
    cmd,
  ].join("\n");
}
