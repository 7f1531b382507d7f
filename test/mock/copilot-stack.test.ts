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
import { copilotEnv } from "./copilot-env";
import { tempDir } from "../support/env";
import { keyOfUrn, resolved } from "./harness";

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
  const deps = new Map<string, string[]>();
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(
      req: { getType(): string; getName(): string; getDependenciesList(): string[] },
      cb: unknown,
    ): Promise<void>;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    deps.set(`${req.getType()}::${req.getName()}`, req.getDependenciesList().map(keyOfUrn));
    return register(req, cb);
  };
  const { program } = await import("../../stacks/copilot");
  const outputs = await resolved(program(env));
  // Containers register once the AWS outputs they take are known: wait for every one of them.
  const want = env.services.length;
  for (let i = 0; i < 100; i++) {
    const n = [...regs.values()].filter((r) => r.type === "pulumi-nodejs:dynamic/envctl:Container");
    if (n.length >= want && n.every((r) => deps.has(`${r.type}::${r.name}`))) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    regs: [...regs.values()].map((r) => ({ ...r, deps: deps.get(`${r.type}::${r.name}`) ?? [] })),
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
          /env cp \(copilot.infra aws\): aws provider plugin: pulumi-resource-aws \(v7\) is not installed/.test(
            err.message,
          ) &&
          err.message.includes("pulumi plugin install resource aws v7.48.0") &&
          err.message.includes("copilot.infra none"),
      );
    } finally {
      Object.assign(process.env, saved);
    }
  });

  it("infra aws: the AWS outputs are the containers' environment, and they wait for them", async () => {
    const { regs, outputs } = await run(copilotEnv("aws"));
    const types = regs.map((r) => r.type);
    assert.equal(types.filter((t) => t === "aws:dsql/cluster:Cluster").length, 2);
    assert.ok(types.includes("envctl:copilot:Infra"));
    assert.ok(types.includes("aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"));

    const history = containerEnv(regs, "cp-temporal-history");
    assert.equal(history.TEMPORAL_SQL_HOST, "monitoredident.dsql.us-east-2.on.aws");
    assert.equal(history.AWS_REGION, "us-east-2", "the infra's region, not the compose default");
    assert.equal(history.TEMPORAL_SQL_AWS_REGION, "us-east-2");
    assert.equal(history.TEMPORAL_HISTORY_SHARDS, "4", "other variables untouched");
    assert.equal(Object.keys(history).length, 4, "nothing added the service does not declare");
    const api = containerEnv(regs, "cp-copilot-api");
    assert.deepEqual(api, {
      COPILOT_DSQL_HOST: "copilotident.dsql.us-east-2.on.aws",
      COPILOT_KNOWLEDGE_BASE_ID: "KB1",
    });
    assert.deepEqual(containerEnv(regs, "cp-grafana"), { GF_AUTH_ANONYMOUS_ENABLED: "true" });

    // The engine creates each container after what feeds it.
    const depsOf = (name: string): string[] =>
      regs.find((r) => r.type === "pulumi-nodejs:dynamic/envctl:Container" && r.name === name)!
        .deps;
    assert.ok(
      depsOf("cp-temporal-history").some((d) =>
        d.includes("aws:dsql/cluster:Cluster::cp-infra-monitored"),
      ),
      depsOf("cp-temporal-history").join(", "),
    );
    assert.ok(depsOf("cp-copilot-api").some((d) => d.includes("AgentKnowledgeBase")));
    assert.ok(!depsOf("cp-grafana").some((d) => d.startsWith("aws:")));

    assert.deepEqual(outputs.infra, {
      monitored_dsql_endpoint: "monitoredident.dsql.us-east-2.on.aws",
      copilot_dsql_endpoint: "copilotident.dsql.us-east-2.on.aws",
      knowledge_base_id: "KB1",
      data_source_id: "DS1",
      kb_source_bucket: "copilot-cp-kb-src-123",
      region: "us-east-2",
    });
  });
});
