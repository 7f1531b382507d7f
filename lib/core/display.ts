/**
 * User-given text as messages show it. An error that names a bad value quotes it, so it must
 * never echo a megabyte, a NUL, a newline that splits the message, or a terminal escape that
 * rewrites the screen: values are quoted with every such character escaped and cut short.
 */

/** How many characters of a value a message quotes before cutting it. */
export const QUOTE_MAX = 60;
/** The longest line envctl prints for an error; longer ones lose their middle. */
export const LINE_MAX = 400;

// C0 and C1 controls, DEL, zero-width and bidirectional marks, line/paragraph separators, BOM.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

function escapeChar(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** `text` with invisible and control characters written as `\uXXXX` (newlines and tabs too). */
export function escapeInvisible(text: string): string {
  return text.replace(INVISIBLE, escapeChar);
}

/** The first `max` characters of `text` (never half a surrogate pair), `…` when cut. */
export function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max).join("")}…`;
}

/** `"value"` for a message: JSON-style quotes and escapes, invisible characters escaped, cut. */
export function quote(text: string, max: number = QUOTE_MAX): string {
  const cut = clip(text, max);
  return escapeInvisible(JSON.stringify(cut));
}

/**
 * One line of a message about the user's input as it may reach the terminal: invisible
 * characters escaped (tabs kept), and a line longer than {@link LINE_MAX} cut in the middle,
 * keeping its start (what is wrong) and its end.
 */
export function printable(line: string): string {
  const safe = line.replace(INVISIBLE, (c) => (c === "\t" ? c : escapeChar(c)));
  const chars = Array.from(safe);
  if (chars.length <= LINE_MAX) return safe;
  const head = chars.slice(0, 160).join("");
  const tail = chars.slice(-80).join("");
  return `${head}… (${chars.length - 240} characters cut) …${tail}`;
}

/** An uptime or a wait as people read it: `850ms`, `12s`, `4m05s`, `2h10m`, `3d4h`. */
export function formatSpan(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}
