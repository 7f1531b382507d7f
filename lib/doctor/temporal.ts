/** Doctor's checks for a spec with a `temporal` section: the Temporal CLI, server and search attributes. */
import type { TemporalSpec } from "../spec/model";
import { firstLine, type Check, type Runner } from "./types";

/**
 * Search attributes (name -> type) from `temporal operator search-attribute list`: the text
 * table (`Name  Type` header, one attribute per line, `|` separators in older CLIs) or its
 * `-o json` document (`systemAttributes` / `customAttributes` maps).
 */
export function parseSearchAttributes(output: string): Map<string, string> {
  const out = new Map<string, string>();
  const text = output.trim();
  if (text.startsWith("{")) {
    const doc = JSON.parse(text) as Record<string, unknown>;
    for (const key of ["systemAttributes", "customAttributes"]) {
      const attrs = doc[key];
      if (attrs && typeof attrs === "object") {
        for (const [name, type] of Object.entries(attrs as Record<string, unknown>)) {
          out.set(name, String(type));
        }
      }
    }
    return out;
  }
  for (const line of text.split("\n")) {
    const cells = line.split(/[\s|]+/).filter(Boolean);
    if (cells.length < 2 || /^-+$/.test(cells[0]!)) continue;
    const [name, type] = [cells[0]!, cells[cells.length - 1]!];
    if (name.toLowerCase() === "name" && type.toLowerCase() === "type") continue; // header
    out.set(name, type);
  }
  return out;
}

/** `Keyword`, `KEYWORD`, `INDEXED_VALUE_TYPE_KEYWORD`, `IndexedValueTypeKeyword` are one type. */
export function sameAttributeType(a: string, b: string): boolean {
  const norm = (t: string): string =>
    t
      .replace(/^INDEXED_VALUE_TYPE_/i, "")
      .replace(/^IndexedValueType/, "")
      .replace(/[_-]/g, "")
      .toLowerCase();
  return norm(a) === norm(b);
}

const TEMPORAL_CLI_FIX =
  "install the Temporal CLI (https://docs.temporal.io/cli: brew install temporal, or its release binary on PATH)";

/** The CLI, the server at the spec's address, and every search attribute the spec lists. */
export async function checkTemporal(run: Runner, t: TemporalSpec): Promise<Check[]> {
  const v = await run("temporal", ["--version"]);
  if (v.code !== 0) {
    return [
      {
        name: "temporal CLI",
        ok: false,
        required: true,
        detail: v.notFound
          ? "not found on PATH (the spec's temporal section needs it; server and search attributes not checked)"
          : `temporal --version failed: ${firstLine(v.stderr)}`,
        fix: TEMPORAL_CLI_FIX,
      },
    ];
  }
  const version = /version (\S+)/.exec(v.stdout)?.[1] ?? firstLine(v.stdout);
  const checks: Check[] = [{ name: "temporal CLI", ok: true, required: true, detail: version }];
  const addr = ["--address", t.address];
  const health = await run("temporal", ["operator", "cluster", "health", ...addr]);
  if (health.code !== 0) {
    checks.push({
      name: "temporal server",
      ok: false,
      required: true,
      detail: `not reachable at ${t.address}: ${firstLine(health.stderr) || firstLine(health.stdout)}`,
      fix: `start it: temporal server start-dev (or point temporal.address at a running server)`,
    });
    return checks;
  }
  checks.push({
    name: "temporal server",
    ok: true,
    required: true,
    detail: `${firstLine(health.stdout) || "healthy"} at ${t.address}`,
  });
  const wanted = Object.entries(t.searchAttributes);
  if (wanted.length === 0) return checks;
  const list = await run("temporal", ["operator", "search-attribute", "list", ...addr]);
  let present: Map<string, string> | undefined;
  try {
    present = list.code === 0 ? parseSearchAttributes(list.stdout) : undefined;
  } catch {
    present = undefined;
  }
  if (!present) {
    checks.push({
      name: "temporal search attributes",
      ok: false,
      required: true,
      detail: `cannot list them at ${t.address}: ${firstLine(list.stderr) || "unreadable output"}`,
      fix: `check by hand: temporal operator search-attribute list --address ${t.address}`,
    });
    return checks;
  }
  for (const [name, type] of wanted) {
    const found = present.get(name);
    const create = `temporal operator search-attribute create --name ${name} --type ${type} --address ${t.address}`;
    const row = `search attribute ${name}`;
    if (found === undefined) {
      checks.push({
        name: row,
        ok: false,
        required: true,
        detail: `missing (${type})`,
        fix: create,
      });
    } else if (!sameAttributeType(found, type)) {
      checks.push({
        name: row,
        ok: false,
        required: true,
        detail: `is ${found}, the spec wants ${type}`,
        fix: `temporal operator search-attribute remove --name ${name} --address ${t.address} --yes, then ${create}`,
      });
    } else {
      checks.push({ name: row, ok: true, required: true, detail: type });
    }
  }
  return checks;
}
