/** The kinds registry: known kinds resolve, unknown ones are clear errors wherever they are read. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { list } from "../../cli/commands/list";
import { status } from "../../cli/commands/status";
import { UserError } from "../../lib/core/errors";
import { checkVerb, ENV_VERBS, isKind, kindOf, KINDS, type KindDef } from "../../lib/kinds";
import { seedEnv, tempHome } from "../support/env";

describe("kinds registry", () => {
  it("every kind has an entry whose kind is itself and whose program module exists", () => {
    for (const k of KINDS) {
      const def = kindOf(k, "test");
      assert.equal(def.kind, k);
      assert.doesNotThrow(() => require.resolve(`../../stacks/${def.program}`));
      assert.ok(def.verbs.length > 0);
    }
    assert.ok(isKind("devenv"));
    assert.ok(!isKind("Devenv") && !isKind(undefined) && !isKind(3));
  });

  it("an unknown kind is a UserError naming where it was read and the known kinds", () => {
    for (const bad of ["copilt", "", 7, null, undefined]) {
      assert.throws(
        () => kindOf(bad, "catalog: env demo"),
        (err: unknown) =>
          err instanceof UserError &&
          err.message ===
            `catalog: env demo: unknown kind ${JSON.stringify(bad)}; this envctl knows ${KINDS.join(", ")}`,
      );
    }
  });

  it("a verb the kind lacks is refused with exit 2, naming the verbs it has", () => {
    const narrow: KindDef = { ...kindOf("devenv", "test"), verbs: ["up", "destroy"] };
    assert.doesNotThrow(() => checkVerb(narrow, "up", "demo"));
    assert.throws(
      () => checkVerb(narrow, "warm", "demo"),
      (err: unknown) =>
        err instanceof UserError &&
        err.exitCode === 2 &&
        /env demo is a devenv env; warm does not apply/.test(err.message) &&
        err.details.join() === "devenv envs support: up, destroy",
    );
    for (const v of ENV_VERBS) assert.doesNotThrow(() => checkVerb(kindOf("devenv", "t"), v, "x"));
  });

  it("a catalog row of an unknown kind stops a command with that sentence, not a TypeError", async () => {
    const home = tempHome();
    seedEnv(home, "demo");
    const db = new Database(home.catalogFile);
    db.prepare("UPDATE envs SET kind = 'hivesink' WHERE name = 'demo'").run();
    db.close();
    await assert.rejects(
      status({ name: "demo", home, log: () => undefined, out: () => undefined }),
      (err: unknown) =>
        err instanceof UserError && /^catalog: env demo: unknown kind "hivesink"/.test(err.message),
    );
  });

  it("list shows a row of an unknown kind as unreadable and still lists the others", async () => {
    const home = tempHome();
    seedEnv(home, "good");
    seedEnv(home, "odd");
    const db = new Database(home.catalogFile);
    db.prepare("UPDATE envs SET kind = 'hivesink' WHERE name = 'odd'").run();
    db.close();
    let out = "";
    await list({ home, json: true, log: () => undefined, out: (t) => (out += t) });
    const doc = JSON.parse(out) as { envs: { name: string; warnings: string[] }[] };
    assert.deepEqual(
      doc.envs.map((e) => e.name),
      ["good", "odd"],
    );
    assert.deepEqual(doc.envs[0]!.warnings, []);
    assert.match(doc.envs[1]!.warnings.join(), /envs\.odd\.kind: unknown kind "hivesink"/);
  });
});
