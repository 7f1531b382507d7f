/**
 * The mocked AWS API of test/mock/copilot-infra.test.ts: the state AWS would answer each
 * resource's creation with, and a capture of what CopilotInfra registers (inputs, provider,
 * parent, dependencies, registered outputs).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  captureRpc,
  key,
  keyOfUrn,
  resolved,
  type Registration as HarnessRegistration,
} from "./harness";
import { CopilotInfra } from "../../components/copilot";

export const ROOT = path.resolve(__dirname, "..", "..");
export const ACCOUNT = "123456789012";
/** The region ambient AWS config names; nothing should end up there. */
export const AMBIENT_REGION = "ap-southeast-2";

export const T = {
  Infra: "envctl:copilot:Infra",
  DsqlComponent: "envctl:copilot:DsqlCluster",
  KbComponent: "envctl:copilot:KnowledgeBase",
  Provider: "pulumi:providers:aws",
  Cluster: "aws:dsql/cluster:Cluster",
  Bucket: "aws:s3/bucket:Bucket",
  Versioning: "aws:s3/bucketVersioning:BucketVersioning",
  Sse: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  Notification: "aws:s3/bucketNotification:BucketNotification",
  VectorBucket: "aws:s3/vectorsVectorBucket:VectorsVectorBucket",
  Index: "aws:s3/vectorsIndex:VectorsIndex",
  Role: "aws:iam/role:Role",
  RolePolicy: "aws:iam/rolePolicy:RolePolicy",
  Kb: "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase",
  DataSource: "aws:bedrock/agentDataSource:AgentDataSource",
} as const;

/** Cluster identifiers the mocked DSQL API hands out, by Pulumi name suffix. */
export const IDENTIFIERS: Record<string, string> = {
  monitored: "abcdefghijklmnopqrstuvwxyz",
  copilot: "zyxwvutsrqponmlkjihgfedcba",
};
export const BUCKET_SUFFIX = "20250101000000000000000001";

// --- capture ----------------------------------------------------------------------------------

/** A provider reference is `<urn>::<id>`. */
export const urnOfProviderRef = (ref: string): string => ref.slice(0, ref.lastIndexOf("::"));

/** What the harness records of a registration, plus the provider and the AWS answer. */
export interface Registration extends HarnessRegistration {
  /** Key of the provider the SDK said manages this resource, "" for none. */
  provider: string;
  /** The state the mocked AWS API answered with. */
  state: Record<string, unknown>;
}

export interface OutputsRequest {
  getUrn(): string;
  getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined;
}

export interface Capture {
  regs: Map<string, Registration>;
  calls: string[];
  infra: CopilotInfra;
  /** Resource objects by key, for reading component properties. */
  objects: Map<string, pulumi.Resource>;
  /** What each component passed to registerOutputs. */
  registeredOutputs: Map<string, Record<string, unknown>>;
}

/** The state AWS would report after creating the resource. */
export function awsState(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
  region: string,
): { id: string; state: Record<string, unknown> } {
  const str = (k: string): string => inputs[k] as string;
  switch (type) {
    case T.Cluster: {
      const suffix = Object.keys(IDENTIFIERS).find((s) => name.endsWith(`-${s}`));
      assert.ok(suffix, `no mocked identifier for cluster ${name}`);
      const identifier = IDENTIFIERS[suffix]!;
      const arn = `arn:aws:dsql:${region}:${ACCOUNT}:cluster/${identifier}`;
      return { id: identifier, state: { ...inputs, identifier, arn, region } };
    }
    case T.Bucket: {
      const bucket = `${str("bucketPrefix")}${BUCKET_SUFFIX}`;
      return { id: bucket, state: { ...inputs, bucket, arn: `arn:aws:s3:::${bucket}`, region } };
    }
    case T.VectorBucket: {
      const arn = `arn:aws:s3vectors:${region}:${ACCOUNT}:bucket/${str("vectorBucketName")}`;
      return { id: str("vectorBucketName"), state: { ...inputs, vectorBucketArn: arn, region } };
    }
    case T.Index: {
      const bucketArn = `arn:aws:s3vectors:${region}:${ACCOUNT}:bucket/${str("vectorBucketName")}`;
      const indexArn = `${bucketArn}/index/${str("indexName")}`;
      return { id: indexArn, state: { ...inputs, indexArn, region } };
    }
    case T.Role: {
      const arn = `arn:aws:iam::${ACCOUNT}:role/${str("name")}`;
      return { id: str("name"), state: { ...inputs, arn } };
    }
    case T.Kb: {
      const arn = `arn:aws:bedrock:${region}:${ACCOUNT}:knowledge-base/KBID456`;
      return { id: "KBID456", state: { ...inputs, arn, region } };
    }
    case T.DataSource:
      return { id: "DSID123,KBID456", state: { ...inputs, dataSourceId: "DSID123", region } };
    default:
      return { id: `${name}-id`, state: type.startsWith("aws:") ? { ...inputs, region } : inputs };
  }
}

/** Fresh mocks, then `new CopilotInfra(name, args)`; resolves once every resource has its URN. */
export async function construct(
  name: string,
  args: { projectName: string; region: string },
): Promise<Capture> {
  const mocked = new Map<
    string,
    Omit<Registration, "parent" | "dependsOn" | "rpcDeps" | "propertyDeps">
  >();
  const providerRegions = new Map<string, string>();
  const calls: string[] = [];
  await pulumi.runtime.setMocks({
    newResource: (a) => {
      const k = key(a.type, a.name);
      assert.ok(!mocked.has(k), `${k} registered twice`);
      const inputs = a.inputs as Record<string, unknown>;
      const provider = a.provider ? keyOfUrn(urnOfProviderRef(a.provider)) : "";
      if (a.type === T.Provider) providerRegions.set(k, inputs.region as string);
      // Without an explicit provider, the default one would use the ambient region.
      const region = providerRegions.get(provider) ?? AMBIENT_REGION;
      const { id, state } = a.custom
        ? awsState(a.type, a.name, inputs, region)
        : { id: undefined, state: {} };
      mocked.set(k, {
        type: a.type,
        name: a.name,
        custom: a.custom ?? false,
        inputs,
        provider,
        state,
      });
      return { id, state };
    },
    call: (a) => {
      calls.push(a.token);
      throw new Error(`unexpected call ${a.token}`);
    },
  });
  pulumi.runtime.setConfig("aws:region", AMBIENT_REGION);

  const rpc = captureRpc();
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResourceOutputs(req: OutputsRequest, cb: unknown): void;
  };
  const registeredOutputs = new Map<string, Record<string, unknown>>();
  const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
  monitor.registerResourceOutputs = (req, cb) => {
    registeredOutputs.set(keyOfUrn(req.getUrn()), req.getOutputs()?.toJavaScript() ?? {});
    registerOutputs(req, cb);
  };

  const created: { resource: pulumi.Resource; key: string; dependsOn: unknown }[] = [];
  const capture: pulumi.ResourceTransformation = (t) => {
    created.push({ resource: t.resource, key: key(t.type, t.name), dependsOn: t.opts.dependsOn });
    return undefined;
  };
  const infra = new CopilotInfra(name, args, { transformations: [capture] });
  await Promise.all(created.map((c) => resolved(c.resource.urn)));
  await resolved(infra.outputs);
  await untilRegistered(registeredOutputs, key(T.Infra, name));

  const regs = new Map<string, Registration>();
  const objects = new Map<string, pulumi.Resource>();
  for (const c of created) {
    const deps =
      c.dependsOn === undefined ? [] : await resolved(c.dependsOn as pulumi.Input<unknown>);
    const list = (Array.isArray(deps) ? deps : [deps]) as pulumi.Resource[];
    const dependsOn = (await Promise.all(list.map((r) => resolved(r.urn)))).map(keyOfUrn).sort();
    const m = mocked.get(c.key);
    const sent = rpc.get(c.key);
    assert.ok(m && sent, `${c.key} was constructed but never registered`);
    regs.set(c.key, { ...m, ...sent, dependsOn });
    objects.set(c.key, c.resource);
  }
  assert.equal(regs.size, mocked.size, "every registered resource was created by the component");
  return { regs, calls, infra, objects, registeredOutputs };
}

/** registerOutputs is sent after its outputs resolve; wait for it, but not forever. */
export async function untilRegistered(outputs: Map<string, unknown>, k: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!outputs.has(k)) {
    assert.ok(Date.now() < deadline, `${k} never registered its outputs`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function reg(c: Capture, type: string, name: string): Registration {
  const r = c.regs.get(key(type, name));
  assert.ok(r, `no ${key(type, name)}; have ${[...c.regs.keys()].join(", ")}`);
  return r;
}

export function only(c: Capture, type: string): Registration {
  const all = [...c.regs.values()].filter((r) => r.type === type);
  assert.equal(all.length, 1, `exactly one ${type}`);
  return all[0]!;
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: string | string[];
  Principal?: { Service?: string };
}

export function statements(doc: unknown): Statement[] {
  assert.equal(typeof doc, "string", "policy documents are sent as JSON text");
  const parsed = JSON.parse(doc as string) as { Version: string; Statement: Statement[] };
  assert.equal(parsed.Version, "2012-10-17");
  return parsed.Statement;
}

export const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];
