/** upgradeEnv: every stored resolved env comes back in the current shape, or a clear refusal. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveHome } from "../../lib/core/home";
import { UserError } from "../../lib/core/errors";
import { resolveEnv } from "../../lib/kinds/devenv/resolve";
import { STEPS, upgradeEnv } from "../../lib/kinds/devenv/upgrade";
import { RESOLVED_ENV_VERSION, type EnvSpec } from "../../lib/spec/model";

const timing = { intervalMs: 250, timeoutMs: 5_000, retries: 30, startPeriodMs: 0 };
const spec: EnvSpec = {
  repo: "/src/shop",
  root: "/src/shop",
  base: "main",
  services: [
    {
      type: "container",
      name: "db",
      image: "postgres:16",
      env: {},
      ports: [{ container: 5432, offset: 432, protocol: "tcp" }],
      volumes: [],
      health: { kind: "command", command: "pg_isready", ...timing },
      dependsOn: [],
      cold: false,
    },
    {
      type: "process",
      name: "api",
      cmd: "node server.js --port {{ports.api}}",
      dir: ".",
      env: { DB: "localhost:{{ports.db}}" },
      ports: [{ container: 3000, offset: 0, protocol: "tcp" }],
      health: { kind: "http", path: "/healthz", port: 3000, ...timing },
      dependsOn: ["db"],
      cold: false,
    },
  ],
  exports: [{ name: "PORT", value: "{{ports.api}}" }],
  init: [{ name: "seed", run: "echo seeded", dir: "." }],
  initAfter: ["db"],
};
const current = resolveEnv("feat-x", spec, 3, resolveHome({ ENVCTL_HOME: "/h" }));
/** What envctl stored before envs were versioned: today's shape without the field. */
const { schemaVersion: _version, ...v1 } = current;
const stored = (doc: object): unknown => JSON.parse(JSON.stringify(doc));

describe("upgradeEnv", () => {
  it("has one step per version", () => {
    assert.equal(RESOLVED_ENV_VERSION, 2);
    assert.equal(STEPS.length, RESOLVED_ENV_VERSION - 1);
    assert.equal(current.schemaVersion, RESOLVED_ENV_VERSION, "resolveEnv writes the current one");
  });

  it("v1 (no schemaVersion) -> current: the version added, nothing else changed", () => {
    assert.deepEqual(upgradeEnv(stored(v1)), current);
    assert.deepEqual(upgradeEnv(stored({ ...v1, schemaVersion: 1 })), current);
  });

  it("current -> the same document", () => {
    assert.deepEqual(upgradeEnv(stored(current)), current);
    assert.deepEqual(upgradeEnv(upgradeEnv(stored(v1))), current);
  });

  it("a newer version is refused, naming both versions", () => {
    assert.throws(
      () => upgradeEnv(stored({ ...current, schemaVersion: 3 }), "stack config envctl:env"),
      (err: unknown) =>
        err instanceof UserError &&
        err.message.startsWith(
          "stack config envctl:env has schema version 3, newer than this envctl's 2",
        ),
    );
  });

  it("refuses what is not a resolved env document", () => {
    assert.throws(() => upgradeEnv(null), /is not a JSON object/);
    assert.throws(() => upgradeEnv([current]), /is not a JSON object/);
    assert.throws(() => upgradeEnv("{}"), /is not a JSON object/);
    for (const bad of ["2", 0, 1.5, null]) {
      assert.throws(
        () => upgradeEnv({ ...current, schemaVersion: bad }),
        /schemaVersion must be a positive integer/,
        JSON.stringify(bad),
      );
    }
  });
});
