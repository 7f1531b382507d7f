/** JSON with sorted keys (undefined members dropped), so key order never reads as a change. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v))
    return `[${v.map((x) => (x === undefined ? "null" : canonicalJson(x))).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** Keys whose values differ between two input bags, ignoring provider-internal `__` keys. */
export function changedKeys(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  keys?: string[],
): string[] {
  const all = keys ?? [...new Set([...Object.keys(olds), ...Object.keys(news)])];
  return all
    .filter((k) => !k.startsWith("__") && canonicalJson(olds[k]) !== canonicalJson(news[k]))
    .sort();
}
