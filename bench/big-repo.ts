/**
 * A git repository of realistic size for the spawn bench: `files` source-like text files
 * (about `mb` MB in all) in a pkg/mod tree, plus whatever `extra` holds, committed on main.
 * The content is pseudo-random from a fixed seed, so every run gets the same repository, and
 * compresses about as well as source code does.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { git } from "../test/support/env";

export interface BigRepo {
  dir: string;
  files: number;
  bytes: number;
}

const WORDS = (
  "const let return async await function export import from type interface extends " +
  "string number boolean undefined null value result config options handler request " +
  "response error status service client server stream buffer cache index count total " +
  "items entry record parse format render update delete create select filter reduce map"
).split(" ");

/** mulberry32: small, fast, seeded. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fills the empty directory `dir` and commits it. */
export function makeBigRepo(
  dir: string,
  opts: { files: number; mb: number; extra: Record<string, string> },
): BigRepo {
  const rand = rng(42);
  const word = (): string => WORDS[Math.floor(rand() * WORDS.length)]!;
  const avg = (opts.mb * 1024 * 1024) / opts.files;
  let bytes = 0;
  for (let i = 0; i < opts.files; i++) {
    const rel = path.join(
      "src",
      `pkg-${String(Math.floor(i / 100)).padStart(2, "0")}`,
      `mod-${Math.floor((i % 100) / 10)}`,
      `file-${i % 10}.ts`,
    );
    const size = Math.round(avg * (0.2 + 1.6 * rand())); // 0.2x..1.8x the average
    const lines: string[] = [];
    let len = 0;
    while (len < size) {
      const n = Math.floor(rand() * 1e6);
      const line = `  ${word()} ${word()}${n} = ${word()}(${word()}, ${n % 997}); // ${word()} ${word()} ${word()}`;
      lines.push(line);
      len += line.length + 1;
    }
    const text = `// generated ${rel}\n${lines.join("\n")}\n`;
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
    bytes += text.length;
  }
  for (const [rel, content] of Object.entries(opts.extra)) {
    fs.writeFileSync(path.join(dir, rel), content);
  }
  git(dir, "init", "-q", "-b", "main");
  git(dir, "add", "-A");
  git(dir, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "init");
  return { dir, files: opts.files + Object.keys(opts.extra).length, bytes };
}
