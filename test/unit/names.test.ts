import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { validateEnvName } from "../../lib/core/names";

test("accepts lowercase names with digits and single hyphens", () => {
  for (const name of ["a", "env-1", "feature-login-2", "x".repeat(40)]) {
    assert.equal(validateEnvName(name), undefined, name);
  }
});

test("says what is wrong with an invalid name", () => {
  const cases: [string, string][] = [
    ["", "must not be empty"],
    ["x".repeat(41), "must be at most 40 characters"],
    ["feat/login", 'must not contain "/"'],
    ["a\\b", 'must not contain "\\"'],
    ["..", 'must not contain ".."'],
    ["a..b", 'must not contain ".."'],
    ["my env", "must not contain spaces"],
    ["Feature", "must be lowercase"],
    ["myEnv", "must be lowercase"],
    ["1env", "must start with a lowercase letter"],
    ["-env", "must start with a lowercase letter"],
    ["env_1", 'must not contain "_"; use lowercase letters, digits and "-"'],
    ["env.1", 'must not contain "."; use lowercase letters, digits and "-"'],
    ["env--1", 'must not contain "--"'],
    ["env-", 'must not end with "-"'],
  ];
  for (const [name, message] of cases)
    assert.equal(validateEnvName(name), message, JSON.stringify(name));
});

test("property: names built from the allowed alphabet are valid", () => {
  const word = fc.stringMatching(/^[a-z0-9]{1,6}$/);
  const name = fc
    .tuple(fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz"), fc.array(word, { maxLength: 5 }))
    .map(([first, rest]) => [first + (rest[0] ?? ""), ...rest.slice(1)].join("-"))
    .filter((n) => n.length <= 40);
  fc.assert(fc.property(name, (n) => validateEnvName(n) === undefined));
});

test("property: anything with a character outside [a-z0-9-] is rejected", () => {
  const bad = fc.constantFrom("A", "Z", " ", "/", ".", "_", "@", "é", ":");
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/), bad, fc.nat(11), (n, c, at) => {
      const i = Math.min(at, n.length);
      return validateEnvName(n.slice(0, i) + c + n.slice(i)) !== undefined;
    }),
  );
});
