/**
 * Dot-paths name a field of a document in messages: `services.web.ports[0]`. Spec and host
 * checks share them, so every issue envctl prints reads the same way.
 */

/** `["services", "web", "ports", 0]` -> `services.web.ports[0]`; odd keys are quoted: `env["A B"]`. */
export function dotPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of segments) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(String(seg))) out += out ? `.${String(seg)}` : String(seg);
    else out += `[${JSON.stringify(String(seg))}]`;
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
