/**
 * lib/engine/automation.ts and lib/engine/update.ts against the real pulumi CLI and file backend: the checks
 * the verbs use instead of the Automation API (the stack's file in the backend, `pulumi stack
 * init`), and the Automation API still reaching the same stack when it is loaded.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { openEngine, selectStack, stackExists, trySelectStack } from "../../lib/engine/automation";
import { UserError } from "../../lib/core/errors";
import { mapEngineError } from "../../lib/engine/errors";
import { toolchainRoot } from "../../lib/core/toolchain";
import { initStack } from "../../lib/engine/update";
import { envName, tempHome } from "../support/env";

describe("stacks without the Automation API", { timeout: 5 * 60_000 }, () => {
  const home = tempHome();
  const name = envName("stack");
  let settings = "";
  after(() => {
    if (settings) fs.rmSync(settings, { force: true });
    fs.rmSync(home.root, { recursive: true, force: true });
  });

  it("init makes the stack and its settings file; its existence is read from the backend", async () => {
    const engine = await openEngine(home);
    assert.equal(engine.pulumi, path.join(toolchainRoot(engine.root), "bin", "pulumi"));
    settings = path.join(engine.project, `Pulumi.${name}.yaml`);
    assert.equal(engine.project, home.projectDir);
    assert.equal(await stackExists(engine, name), false);

    await initStack(engine, name);
    assert.equal(await stackExists(engine, name), true);
    assert.match(fs.readFileSync(settings, "utf8"), /^encryptionsalt: /m);
    assert.ok(
      !fs.existsSync(path.join(engine.root, `Pulumi.${name}.yaml`)),
      "written into the install",
    );
    const automation = Object.keys(require.cache).some((k) => k.includes("automation/stack.js"));
    assert.equal(automation, false, "the Automation API was not loaded");

    await assert.rejects(initStack(engine, name), (err: unknown) => {
      assert.ok(err instanceof UserError, String(err));
      assert.equal(err.message, `env ${name} already exists`);
      return true;
    });

    // The Automation API, loaded on demand, sees the same stack and can remove it.
    const stack = await selectStack(engine, name);
    assert.equal(stack.name.split("/").pop(), name);
    await (await engine.workspace()).removeStack(name);
    assert.equal(await stackExists(engine, name), false);
    assert.equal(await trySelectStack(engine, name), undefined);
  });
});

describe("stackExists on other backends", () => {
  it("asks pulumi when the file backend is not an absolute path", async () => {
    const engine = await openEngine(tempHome());
    let asked = 0;
    const other = {
      ...engine,
      env: { ...engine.env, PULUMI_BACKEND_URL: "file://~/state" },
      workspace: () => {
        asked++;
        return Promise.reject(
          Object.assign(new Error("no stack named 'x'"), { name: "StackNotFoundError" }),
        );
      },
    };
    assert.equal(await stackExists(other, "x"), false);
    assert.equal(asked, 1);
  });
});

describe("mapEngineError", () => {
  const named = (name: string, message = "pulumi said so"): Error =>
    Object.assign(new Error(message), { name });

  it("knows the Automation API's errors by name, without loading it", () => {
    const gone = mapEngineError(named("StackNotFoundError"), "e1");
    assert.ok(gone instanceof UserError);
    assert.equal(gone.message, "env e1 does not exist");
    assert.equal(gone.exitCode, 2);
    const dup = mapEngineError(named("StackAlreadyExistsError"), "e1");
    assert.ok(dup instanceof UserError);
    assert.equal(dup.message, "env e1 already exists");
    const busy = mapEngineError(named("ConcurrentUpdateError"), "e1");
    assert.ok(busy instanceof UserError);
    assert.match(busy.message, /busy/);
    assert.match(busy.details.join("\n"), /envctl recover e1/);
  });

  it("reads pulumi's own messages, and passes anything else through", () => {
    const dup = mapEngineError(
      new Error("error: stack 'organization/envctl/e2' already exists"),
      "e2",
    );
    assert.ok(dup instanceof UserError);
    assert.equal(dup.message, "env e2 already exists");
    const other = new Error("something else");
    assert.equal(mapEngineError(other, "e2"), other);
  });
});
