/**
 * The copilot program (stacks/copilot.ts) under Pulumi mocks, standing in for the real AWS API
 * (its provider plugin cannot be installed on these machines; the containers' side runs for
 * real in test/e2e/copilot.test.ts with the infra off): the AWS outputs reach the environment
 * of exactly the containers that declare those variables, each such container waits for the
 * resource its value comes from, and `infra: none` makes no AWS resource at all.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedEnv } from "../../lib/spec/model";
import { resolveHome } from "../../lib/core/home";
import { resolveCopilot } from "../../lib/kinds/copilot/resolve";
import { parseSpecText } from "../../lib/spec/load";
import { copilotEnv } from "./copilot-env";
import { tempDir } from "../support/env";
import { captureRpc, resolved } from "./harness";

/** presets/copilot/envctl.yaml as `envctl up cp` resolves it, in `region`. */
function presetEnv(region: string): ResolvedEnv {
  const file = path.join(__dirname, "..", "..", "presets", "copilot", "envctl.yaml");
  const text = fs.readFileSync(file, "utf8").replace("region: eu-west-1", `region: ${region}`);
  const r = parseSpecText(text, { file });
  assert.deepEqual(r.errors, []);
  return resolveCopilot("cp", r.spec!, 1, resolveHome({ ENVCTL_HOME: tempDir("home") }));
}

interface Reg {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  deps: string[];
}

/** Runs the program under fresh mocks; every registration with the dependencies it sent. */
async function run(env: ResolvedEnv): Promise<{ regs: Reg[]; outputs: Record<string, unknown> }> {
  // The AWS part runs only where its plugin and credentials are: stand-ins for both.
  const bin = tempDir("aws-plugin");
  fs.writeFileSync(path.join(bin, "pulumi-resource-aws"), "", { mode: 0o755 });
  process.env.PATH = `${bin}${path.delimiter}${process.env.PATH ?? ""}`;
  process.env.AWS_ACCESS_KEY_ID = "AKIAEXAMPLE";
  process.env.AWS_SECRET_ACCESS_KEY = "example";
  const regs = new Map<string, Reg>();
  await pulumi.runtime.setMocks({
    newResource: (args) => {
      const inputs = args.inputs as Record<string, unknown>;
      const state: Record<string, unknown> = { ...inputs };
      if (args.type === "aws:dsql/cluster:Cluster") {
        state.identifier = `${args.name.split("-").at(-1)}ident`;
        state.arn = `arn:aws:dsql:us-east-2:1:cluster/${String(state.identifier)}`;
      }
      if (args.type === "aws:bedrock/agentDataSource:AgentDataSource") state.dataSourceId = "DS1";
      if (args.type === "aws:s3/bucket:Bucket") state.bucket = "copilot-cp-kb-src-123";
      regs.set(`${args.type}::${args.name}`, {
        type: args.type,
        name: args.name,
        inputs,
        deps: regs.get(`${args.type}::${args.name}`)?.deps ?? [],
      });
      const kb = args.type === "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase";
      return { id: kb ? "KB1" : args.custom ? `${args.name}-id` : undefined, state };
    },
    call: (args) => {
      throw new Error(`unexpected call ${args.token}`);
    },
  });
  const rpc = captureRpc();
  const { program } = await import("../../stacks/copilot");
  const outputs = await resolved(program(env));
  // Containers register once the AWS outputs they take are known: wait for every one of them.
  const want = env.services.length;
  for (let i = 0; i < 100; i++) {
    const n = [...regs.values()].filter((r) => r.type === "pulumi-nodejs:dynamic/envctl:Container");
    if (n.length >= want && n.every((r) => rpc.has(`${r.type}::${r.name}`))) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    regs: [...regs.values()].map((r) => ({
      ...r,
      deps: rpc.get(`${r.type}::${r.name}`)?.rpcDeps ?? [],
    })),
    outputs,
  };
}

const containerEnv = (regs: Reg[], name: string): Record<string, string> => {
  const r = regs.find(
    (x) => x.type === "pulumi-nodejs:dynamic/envctl:Container" && x.name === name,
  );
  assert.ok(r, `no container ${name}`);
  return r.inputs.env as Record<string, string>;
};

describe("the copilot program", () => {
  it("infra aws without the AWS provider plugin: a RunError saying how to install it", async () => {
    const saved = { PATH: process.env.PATH, PULUMI_HOME: process.env.PULUMI_HOME };
    process.env.PATH = "/nonexistent";
    process.env.PULUMI_HOME = tempDir("no-plugins");
    try {
      await pulumi.runtime.setMocks({
        newResource: (a) => ({ id: `${String(a.name)}-id`, state: a.inputs as object }),
        call: () => ({}),
      });
      const { program } = await import("../../stacks/copilot");
      assert.throws(
        () => program(copilotEnv("aws")),
        (err: unknown) =>
          err instanceof pulumi.RunError &&
          /env cp \(copilot.infra aws\): aws provider plugin: pulumi-resource-aws \(v7\.48\.0 or a newer 7\.x\) is not installed/.test(
            err.message,
          ) &&
          err.message.includes("pulumi plugin install resource aws v7.48.0") &&
          err.message.includes("copilot.infra none"),
      );
    } finally {
      Object.assign(process.env, saved);
    }
  });

  it("infra aws, the real preset: each container gets the output its compose value names", async () => {
    const { regs, outputs } = await run(presetEnv("us-east-2"));
    const types = regs.map((r) => r.type);
    assert.equal(types.filter((t) => t === "aws:dsql/cluster:Cluster").length, 2);
    assert.ok(types.includes("envctl:copilot:Infra"));
    assert.ok(types.includes("aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"));
    const monitored = "monitoredident.dsql.us-east-2.on.aws";
    const copilot = "copilotident.dsql.us-east-2.on.aws";

    // The monitored cluster's services point at the monitored DSQL cluster...
    for (const svc of [
      "temporal-history",
      "temporal-matching",
      "temporal-frontend",
      "temporal-worker",
    ]) {
      const e = containerEnv(regs, `cp-${svc}`);
      assert.equal(e.TEMPORAL_SQL_HOST, monitored, svc);
      assert.equal(e.AWS_REGION, "us-east-2", `${svc}: the spec's region, not the compose default`);
      assert.equal(e.TEMPORAL_SQL_AWS_REGION, "us-east-2", svc);
    }
    // ...the copilot cluster's Temporal at the copilot one: its TEMPORAL_SQL_HOST is written
    // ${COPILOT_DSQL_HOST} in the compose file, so a fill by variable name would get it wrong.
    assert.equal(containerEnv(regs, "cp-copilot-temporal").TEMPORAL_SQL_HOST, copilot);
    for (const svc of ["copilot-worker", "copilot-api"]) {
      const e = containerEnv(regs, `cp-${svc}`);
      assert.equal(e.COPILOT_DSQL_HOST, copilot, svc);
      assert.equal(e.COPILOT_DSQL_ENDPOINT, copilot, svc);
      assert.equal(e.KNOWLEDGE_BASE_ID, "KB1", svc);
    }
    // No placeholder reaches any container.
    for (const r of regs.filter((x) => x.type === "pulumi-nodejs:dynamic/envctl:Container")) {
      const env = r.inputs.env as Record<string, string>;
      assert.ok(
        !JSON.stringify(env).includes("__ENVCTL_OUTPUT_"),
        `${r.name}: ${JSON.stringify(env)}`,
      );
    }

    // The engine creates each container after what feeds it, and nothing else waits for AWS.
    const depsOf = (name: string): string[] =>
      regs.find((r) => r.type === "pulumi-nodejs:dynamic/envctl:Container" && r.name === name)!
        .deps;
    assert.ok(depsOf("cp-temporal-history").some((d) => d.includes("Cluster::cp-infra-monitored")));
    assert.ok(depsOf("cp-copilot-temporal").some((d) => d.includes("Cluster::cp-infra-copilot")));
    assert.ok(
      !depsOf("cp-copilot-temporal").some((d) => d.includes("Cluster::cp-infra-monitored")),
    );
    assert.ok(depsOf("cp-copilot-worker").some((d) => d.includes("AgentKnowledgeBase")));
    assert.ok(!depsOf("cp-mimir").some((d) => d.startsWith("aws:")));

    assert.deepEqual(outputs.infra, {
      monitored_dsql_endpoint: monitored,
      copilot_dsql_endpoint: copilot,
      knowledge_base_id: "KB1",
      data_source_id: "DS1",
      kb_source_bucket: "copilot-cp-kb-src-123",
      region: "us-east-2",
    });
  });
});
