/**
 * EnvctlResource registers `__provider` from precomputed text (components/shared/provider-text.ts)
 * instead of letting `pulumi.dynamic.Resource` serialize the trampoline on every run. Stacks in
 * the field hold the SDK's serialization: any byte of difference is a diff on every resource of
 * every stack. Under Pulumi mocks (standing in for the engine's RegisterResource), both are
 * registered for every handler kind and their inputs compared.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { EnvctlResource } from "../../components/shared/dynamic";
import { providerText } from "../../components/shared/provider-text";
import { handlers } from "../../lib/providers/index";
import { ROOT } from "../support/env";

/**
 * The trampoline as the engine runs it: tsc's output in dist/ (the tests themselves run through
 * tsx, whose esbuild output prints the same functions differently).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { trampoline } = require(
  path.join(ROOT, "dist", "components", "shared", "dynamic.js"),
) as typeof import("../../components/shared/dynamic");

/** What envctl registered before: the SDK's dynamic resource, serializing the trampoline. */
class SdkResource extends pulumi.dynamic.Resource {}

interface Reg {
  type: string;
  inputs: Record<string, unknown>;
}

describe("precomputed dynamic-provider text", () => {
  const regs = new Map<string, Reg>();

  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          regs.set(args.name, { type: args.type, inputs: args.inputs as Record<string, unknown> });
          return Promise.resolve({ id: `${args.name}-id`, state: args.inputs as object });
        },
        call: () => Promise.reject(new Error("no calls")),
      },
      "project",
      "stack",
      false,
    );
    const done: pulumi.Output<unknown>[] = [];
    for (const kind of Object.keys(handlers)) {
      const sdk = new SdkResource(
        trampoline(kind),
        `sdk-${kind}`,
        { a: 1 },
        undefined,
        "envctl",
        "T",
      );
      const ours = new EnvctlResource("T", kind, `ours-${kind}`, { a: 1 });
      done.push(sdk.urn, ours.urn);
    }
    await new Promise<void>((resolve) => pulumi.all(done).apply(() => resolve()));
    // RegisterResource is sent once the inputs resolve; give the serializer's promise its turn.
    for (let i = 0; i < 50 && regs.size < 2 * Object.keys(handlers).length; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it("registers every kind both ways", () => {
    assert.equal(regs.size, 2 * Object.keys(handlers).length);
  });

  for (const kind of Object.keys(handlers)) {
    it(`${kind}: the same type and byte-identical __provider as pulumi.dynamic.Resource`, () => {
      const sdk = regs.get(`sdk-${kind}`)!;
      const ours = regs.get(`ours-${kind}`)!;
      assert.equal(ours.type, sdk.type);
      assert.equal(ours.type, "pulumi-nodejs:dynamic/envctl:T");
      assert.equal(typeof sdk.inputs.__provider, "string");
      assert.equal(ours.inputs.__provider, sdk.inputs.__provider);
      assert.deepEqual(ours.inputs, sdk.inputs);
      assert.equal(providerText(kind), sdk.inputs.__provider);
    });
  }

  it("the kind is the only thing that varies", () => {
    assert.notEqual(providerText("container"), providerText("volume"));
    assert.equal(providerText("container").split('"container"').length - 1, 2);
  });

  it("refuses a props bag that brings its own __provider", () => {
    assert.throws(() => new EnvctlResource("T", "file", "bad", { __provider: "x" }), /__provider/);
  });
});
