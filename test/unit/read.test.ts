/** lib/spec/read.ts: spec files that are not text, and YAML that must not reach the schema. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseYaml, readTextFile, SPEC_FILE_MAX_BYTES } from "../../lib/spec/read";
import { scratchDirs } from "../support/env";

const temp = scratchDirs();

test("readTextFile: text comes back; anything else says why without reading it", () => {
  const dir = temp("read");
  const at = (name: string, content?: string | Buffer): string => {
    const file = path.join(dir, name);
    if (content !== undefined) fs.writeFileSync(file, content);
    return file;
  };
  assert.deepEqual(readTextFile(at("ok.yaml", "services: {}\n")), { text: "services: {}\n" });
  assert.deepEqual(readTextFile(at("gone.yaml")), { reason: "no such file", kind: "missing" });
  assert.deepEqual(readTextFile(dir), { reason: "is a directory", kind: "directory" });
  fs.symlinkSync("loop-b", at("loop-a"));
  fs.symlinkSync("loop-a", at("loop-b"));
  assert.deepEqual(readTextFile(at("loop-a")), { reason: "a symlink loop", kind: "other" });
  assert.match(
    reasonOf(path.join(at("ok.yaml"), "x")),
    /no such file \(a parent is not a directory\)/,
  );
  execFileSync("mkfifo", [at("fifo")]);
  assert.match(reasonOf(at("fifo")), /not a regular file/); // returns at once: nothing writes
  assert.match(reasonOf("/dev/zero"), /not a regular file/);
  assert.match(reasonOf(at("big", Buffer.alloc(SPEC_FILE_MAX_BYTES + 1, 0x61))), /too large/);
  assert.match(reasonOf(at("nul", "a: 1\n\0")), /binary/);
  assert.match(reasonOf(at("latin1", Buffer.from("a: caf\xe9\n", "latin1"))), /not UTF-8/);
});

function reasonOf(file: string): string {
  const r = readTextFile(file);
  return "reason" in r ? r.reason : "(read)";
}

test("parseYaml: a key written twice is named by its dot-path and both lines", () => {
  assert.deepEqual(parseYaml("services:\n  web: {}\n  db: {}\n  web: {}\n"), {
    problem: { path: "services.web", message: "is defined twice (line 2 and line 4)" },
  });
  assert.deepEqual(parseYaml("a:\n  - { x: 1, x: 2 }\n"), {
    problem: { path: "a[0].x", message: "is defined twice (line 2 and line 2)" },
  });
});

test("parseYaml: resource exhaustion and NUL characters are problems, not crashes", () => {
  const bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 10; i++)
    bomb.push(
      `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(", ")}]`,
    );
  assert.deepEqual(parseYaml(bomb.join("\n")), {
    problem: {
      message: "invalid YAML: Excessive alias count indicates a resource exhaustion attack",
    },
  });
  // Refused before the parser recurses into it (deep enough input aborts node from inside V8).
  assert.deepEqual(parseYaml(`a: ${"[".repeat(5000)}${"]".repeat(5000)}`), {
    problem: { line: 1, message: "nested too deeply (more than 128 levels)" },
  });
  const blocks = Array.from({ length: 200 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n");
  assert.deepEqual(parseYaml(blocks), {
    problem: { line: 129, message: "nested too deeply (more than 128 levels)" },
  });
  const dashes = `a:\n${"- ".repeat(200)}x\n`;
  assert.ok("problem" in parseYaml(dashes), "compact sequences count as levels");
  // Brackets inside quotes and comments, and apostrophes in plain words, are not nesting.
  const plain = `a: "${"[".repeat(300)}" # ${"{".repeat(300)}\nb: it's '${"[".repeat(300)}'\n`;
  assert.ok("data" in parseYaml(plain), JSON.stringify(parseYaml(plain)));
  assert.deepEqual(parseYaml('a: { b: ["ok", "x\\0y"] }'), {
    problem: { path: "a.b[1]", message: "must not contain NUL characters" },
  });
  assert.deepEqual(parseYaml("a: [1\n"), {
    problem: {
      line: 2,
      column: 1,
      message:
        "invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
    },
  });
});
