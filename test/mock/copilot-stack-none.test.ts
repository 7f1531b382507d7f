/** The copilot program with `infra: none` (mocks; one program per process: see copilot-stack). */
import assert from "node:assert/strict";
import { it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { resolved } from "./harness";

it("infra none: no AWS resource, the environment is what .env gave", async () => {
  const types: string[] = [];
  const envs = new Map<string, Record<string, string>>();
  await pulumi.runtime.setMocks({
    newResource: (args) => {
      types.push(args.type);
      if (args.type === "pulumi-nodejs:dynamic/envctl:Container") {
        envs.set(args.name, (args.inputs as { env: Record<string, string> }).env);
      }
      return {
        id: args.custom ? `${args.name}-id` : undefined,
        state: args.inputs as Record<string, unknown>,
      };
    },
    call: (args) => {
      throw new Error(`unexpected call ${args.token}`);
    },
  });
  const { program } = await import("../../stacks/copilot");
  const base = (await import("./copilot-env")).copilotEnv("none");
  const outputs = await resolved(program(base));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(
    types.filter((t) => t.startsWith("aws:") || t.startsWith("envctl:copilot")),
    [],
  );
  assert.equal(
    envs.get("cp-temporal-history")!.TEMPORAL_SQL_HOST,
    "from-dotenv.dsql.eu-west-1.on.aws",
  );
  assert.equal(envs.get("cp-temporal-history")!.AWS_REGION, "eu-west-1");
  assert.equal(outputs.infra, undefined);
  // @pulumi/aws is not even loaded for it.
  assert.ok(!Object.keys(require.cache).some((k) => /[\\/]@pulumi[\\/]aws[\\/]/.test(k)));
});
