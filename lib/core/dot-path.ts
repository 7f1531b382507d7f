/**
 * Dot-paths name a field of a document in messages: `services.web.ports[0]`. Spec and host
 * checks share them, so every issue envctl prints reads the same way.
 */
import { quote } from "./display";

/** Keys longer than this are quoted and cut, like any other value a message echoes. */
const PLAIN_KEY_MAX = 64;

/**
 * `["services", "web", "ports", 0]` -> `services.web.ports[0]`; odd keys are quoted (and long
 * ones cut): `env["A B"]`.
 */
export function dotPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of segments) {
    const key = String(seg);
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(key) && key.length <= PLAIN_KEY_MAX)
      out += out ? `.${key}` : key;
    else out += `[${quote(key)}]`;
  }
  return out;
}

/** The value at `at` inside `root`, or undefined when the path leaves the document. */
export function valueAt(root: unknown, at: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const seg of at) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}
