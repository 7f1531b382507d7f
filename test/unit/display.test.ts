/** lib/core/display.ts: how messages quote what the user gave them. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { clip, LINE_MAX, printable, quote, QUOTE_MAX } from "../../lib/core/display";

test("quote: JSON quotes, every control and invisible character escaped", () => {
  assert.equal(quote("web"), '"web"');
  assert.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(quote("a\nb\tc"), '"a\\nb\\tc"');
  assert.equal(quote("\x1b[2J"), '"\\u001b[2J"');
  assert.equal(quote("del\x7f c1\x85"), '"del\\u007f c1\\u0085"');
  assert.equal(quote("rtl\u202eexe zw\u200b"), '"rtl\\u202eexe zw\\u200b"');
  assert.equal(quote("café 🚀"), '"café 🚀"');
});

test("quote: long values are cut, never inside a surrogate pair", () => {
  assert.equal(quote("x".repeat(100_000)), `"${"x".repeat(QUOTE_MAX)}…"`);
  assert.equal(quote("🚀".repeat(3), 2), '"🚀🚀…"');
  assert.equal(clip("abc", 3), "abc");
  assert.equal(clip("abcd", 3), "abc…");
});

test("printable: keeps short lines and tabs, escapes controls, cuts the middle of long ones", () => {
  assert.equal(printable("envctl: fine\there"), "envctl: fine\there");
  assert.equal(printable("a\x00b\x1bc"), "a\\u0000b\\u001bc");
  const long = printable(`start ${"q".repeat(100_000)} end`);
  assert.ok(long.length <= LINE_MAX, `${long.length}`);
  assert.match(long, /^start q+… \(\d+ characters cut\) …q+ end$/);
});

test("quote and printable never let a control character or a long line through", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 500 }), (s) => {
      for (const out of [quote(s), printable(s)]) {
        assert.doesNotMatch(out, /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e]/);
      }
      assert.ok(Array.from(printable(s)).length <= LINE_MAX + 40);
    }),
  );
});
