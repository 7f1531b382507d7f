/**
 * The source tree's shape: no import circles between files, and imports only flow the way the
 * README's Architecture section draws them (cli -> lib; stacks -> components -> lib; lib never
 * reaches up into cli, components or stacks).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

const ROOT = path.resolve(__dirname, "..", "..");
const TOP = ["cli", "lib", "components", "stacks"];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/** Relative imports of a file (static, type-only, require and dynamic import), resolved to files. */
export function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import|require)\s*\(?\s*["'](\.{1,2}\/[^"']*)["']/g)) {
    const base = path.resolve(path.dirname(file), m[1]!);
    const hit = [`${base}.ts`, path.join(base, "index.ts")].find((p) => fs.existsSync(p));
    if (hit) out.push(hit);
  }
  return out;
}

/** Strongly connected components with more than one file (or a file importing itself). */
export function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

const files = TOP.flatMap((d) => sources(path.join(ROOT, d)));
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string): string => path.relative(ROOT, f);

describe("source layout", () => {
  it("the circle finder finds a circle (so an empty answer means something)", () => {
    const g = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["a"]],
    ]);
    assert.deepEqual(circles(g), [["a", "b", "c"]]);
  });

  it("has no import circles between files", () => {
    assert.ok(files.length > 50, `found only ${files.length} sources`);
    assert.deepEqual(
      circles(graph).map((c) => c.map(rel)),
      [],
    );
  });

  it("lib never imports cli, components or stacks; components never import cli", () => {
    const bad: string[] = [];
    for (const [f, deps] of graph) {
      const from = rel(f).split(path.sep)[0]!;
      for (const d of deps) {
        const to = rel(d).split(path.sep)[0]!;
        const allowed: Record<string, string[]> = {
          lib: ["lib"],
          components: ["components", "lib"],
          stacks: ["stacks", "components", "lib"],
          cli: ["cli", "lib"],
        };
        if (!allowed[from]!.includes(to)) bad.push(`${rel(f)} -> ${rel(d)}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it("has no import circles between domains (lib/<folder>, cli, components, stacks)", () => {
    const domain = (f: string): string => {
      const parts = rel(f).split(path.sep);
      return parts[0] === "lib" ? `lib/${parts[1]}` : parts[0]!;
    };
    const domains = new Map<string, Set<string>>();
    for (const [f, deps] of graph) {
      const from = domain(f);
      const to = domains.get(from) ?? new Set<string>();
      for (const d of deps) if (domain(d) !== from) to.add(domain(d));
      domains.set(from, to);
    }
    const g = new Map([...domains].map(([k, v]) => [k, [...v]]));
    assert.ok(g.size >= 12, [...g.keys()].join(", "));
    assert.deepEqual(circles(g), []);
  });

  it("lib/ holds folders only, one per domain", () => {
    const loose = fs.readdirSync(path.join(ROOT, "lib")).filter((e) => e.endsWith(".ts"));
    assert.deepEqual(loose, []);
  });
});
