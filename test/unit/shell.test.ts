/**
 * lib/core/shell.ts: quoting a value as one /bin/sh word (checked against a real sh), and the
 * one tokenizer behind compose's `command` split and validate's simple-command analysis.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { shellQuote, shellWords } from "../../lib/core/shell";

/** What /bin/sh makes of `words`: each argument printed on its own NUL-terminated line. */
function shArgs(words: string): string[] {
  const out = execFileSync("/bin/sh", ["-c", `printf '%s\\0' ${words}`], { encoding: "utf8" });
  return out.split("\0").slice(0, -1);
}

describe("shellQuote", () => {
  it("quotes always by default; minimal leaves shell-safe words bare", () => {
    assert.equal(shellQuote("/a/b"), "'/a/b'");
    assert.equal(shellQuote("/a/b", { minimal: true }), "/a/b");
    assert.equal(shellQuote("", { minimal: true }), "''");
    assert.equal(shellQuote("it's", { minimal: true }), `'it'\\''s'`);
  });

  it("any string reaches sh as exactly that one word, in both styles", () => {
    const text = fc.string({
      unit: fc.constantFrom("a", " ", "'", '"', "\\", "$", "`", "*", "\n", "é"),
    });
    fc.assert(
      fc.property(text, fc.boolean(), (v, minimal) => {
        assert.deepEqual(shArgs(shellQuote(v, { minimal })), [v]);
      }),
      { numRuns: 60 },
    );
  });
});

describe("shellWords without operators (compose's string command)", () => {
  it("unquotes words and keeps shell operators as text", () => {
    const { commands, unterminated } = shellWords(
      `redis-server --save "" --appendonly 'yes please' a\\ b x&&y "a\\"b" $HOME`,
    );
    assert.equal(unterminated, false);
    assert.deepEqual(
      commands.flat().map((w) => w.text),
      ["redis-server", "--save", "", "--appendonly", "yes please", "a b", "x&&y", 'a"b', "$HOME"],
    );
  });

  it("reports an open quote", () => {
    assert.equal(shellWords(`echo "open`).unterminated, true);
    assert.equal(shellWords(`echo 'open`).unterminated, true);
    assert.deepEqual(shellWords("").commands, []);
  });
});

describe("shellWords with operators (what sh -c runs)", () => {
  it("splits at operators, unquotes words, drops redirections and comments", () => {
    const words = shellWords(
      `A=1 B="x y" cargo run --bin 'a b' 2>&1 | tee log && cd x; echo "$HOME" # note`,
      { operators: true },
    ).commands.map((c) => c.map((w) => (w.dynamic ? `<${w.text}>` : w.text)));
    assert.deepEqual(words, [
      ["A=1", "B=x y", "cargo", "run", "--bin", "a b"],
      ["tee", "log"],
      ["cd", "x"],
      ["echo", "<$HOME>"],
    ]);
  });

  it("keeps templates and command substitutions as one dynamic word", () => {
    const [cmd] = shellWords(`{{ ports.web }} --x $(which node) done`, {
      operators: true,
    }).commands;
    assert.deepEqual(
      cmd!.map((w) => [w.text, w.dynamic]),
      [
        ["{{ ports.web }}", true],
        ["--x", false],
        ["$(which node)", true],
        ["done", false],
      ],
    );
  });

  it("joins lines at a backslash-newline; a newline alone ends the command", () => {
    const words = shellWords("make \\\n  build\nrun", { operators: true }).commands;
    assert.deepEqual(
      words.map((c) => c.map((w) => w.text)),
      [["make", "build"], ["run"]],
    );
  });
});
