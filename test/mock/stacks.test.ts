/**
 * The program entry point (stacks/index.ts) under Pulumi mocks, standing in for the engine
 * running it: the kind in stack config picks the program through the kinds registry, and an
 * unknown kind stops the program with a sentence naming it (a RunError: no stack trace).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { resolveHome } from "../../lib/core/home";
import { kindOf } from "../../lib/kinds";
import { loadSpecFile } from "../../lib/spec/load";

const ENTRY = require.resolve("../../stacks/index");

function demoEnv(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-stacks-"));
  const file = path.join(dir, "envctl.yaml");
  fs.writeFileSync(file, "services:\n  web:\n    image: debian:bookworm\n    ports: [8080]\n");
  const { spec, errors } = loadSpecFile(file);
  assert.deepEqual(errors, []);
  const home = resolveHome({ ENVCTL_HOME: path.join(dir, "home") });
  const env = kindOf("devenv", "test").resolve("demo", spec!, 2, home);
  return JSON.stringify(env);
}

function loadEntry(config: Record<string, string>): unknown {
  pulumi.runtime.setAllConfig(config);
  delete require.cache[ENTRY];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(ENTRY);
}

describe("stacks/index: one program per kind", () => {
  it("an unknown kind is a RunError naming the kind and where it was read", async () => {
    await pulumi.runtime.setMocks({
      newResource: () => assert.fail("no resource may be registered for an unknown kind"),
      call: () => assert.fail("unexpected call"),
    });
    assert.throws(
      () => loadEntry({ "envctl:kind": "copilt", "envctl:env": "{}" }),
      (err: unknown) =>
        err instanceof pulumi.RunError &&
        /stack config envctl:kind: unknown kind "copilt"; this envctl knows devenv/.test(
          err.message,
        ),
    );
  });

  it("an env stored by a newer envctl is refused by name, before any resource", async () => {
    await pulumi.runtime.setMocks({
      newResource: () => assert.fail("no resource may be registered for a newer env"),
      call: () => assert.fail("unexpected call"),
    });
    const future = JSON.stringify({ ...JSON.parse(demoEnv()), schemaVersion: 99 });
    assert.throws(
      () => loadEntry({ "envctl:kind": "devenv", "envctl:env": future }),
      (err: unknown) =>
        err instanceof pulumi.RunError &&
        /^stack config envctl:env has schema version 99, newer than/.test(err.message),
    );
  });

  it("kind devenv builds the DevEnv component from envctl:env", async () => {
    const types: string[] = [];
    await pulumi.runtime.setMocks({
      newResource: (args) => {
        types.push(args.type);
        return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
      },
      call: () => assert.fail("unexpected call"),
    });
    const mod = loadEntry({ "envctl:kind": "devenv", "envctl:env": demoEnv() }) as {
      env: pulumi.Output<unknown>;
    };
    assert.ok(pulumi.Output.isInstance(mod.env), "the stack exports env");
    await new Promise<void>((resolve) => mod.env.apply(() => resolve()));
    assert.ok(types.includes("envctl:devenv:DevEnv"), types.join(", "));
    assert.ok(types.includes("pulumi-nodejs:dynamic/envctl:Container"), types.join(", "));
    // The program of one kind never loads another kind's components.
    const loaded = Object.keys(require.cache).filter((k) =>
      k.includes(`${path.sep}components${path.sep}`),
    );
    assert.ok(loaded.length > 0);
    assert.deepEqual(
      loaded.filter((k) => !/components[/\\](devenv|shared)[/\\]/.test(k)),
      [],
    );
  });
});
