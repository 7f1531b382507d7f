/**
 * The copilot kind's AWS components (CopilotInfra: two DSQL clusters and a Bedrock knowledge base)
 * under Pulumi mocks. The mocks stand in for the real AWS API: the AWS provider plugin cannot be
 * installed on these machines, so `newResource` answers with the state AWS would report
 * (identifiers, ARNs, the region of the provider the resource was created with), and the RPCs
 * the SDK sends are captured to check what each resource waits on and which provider manages it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import {
  CopilotInfra,
  dsqlEndpoint,
  titanEmbeddingArn,
  type CopilotInfraOutputs,
} from "../../components/copilot";

const ROOT = path.resolve(__dirname, "..", "..");
const ACCOUNT = "123456789012";
/** The region ambient AWS config names; nothing should end up there. */
const AMBIENT_REGION = "ap-southeast-2";

const T = {
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
const IDENTIFIERS: Record<string, string> = {
  monitored: "abcdefghijklmnopqrstuvwxyz",
  copilot: "zyxwvutsrqponmlkjihgfedcba",
};
const BUCKET_SUFFIX = "20250101000000000000000001";

// --- capture ----------------------------------------------------------------------------------

const key = (type: string, name: string): string => `${type}::${name}`;

/** `urn:pulumi:stack::project::parent$type::name` -> key(type, name). */
function keyOfUrn(urn: string): string {
  const parts = urn.split("::");
  const type = parts[2]!.split("$").pop()!;
  return key(type, parts.slice(3).join("::"));
}

/** A provider reference is `<urn>::<id>`. */
const urnOfProviderRef = (ref: string): string => ref.slice(0, ref.lastIndexOf("::"));

function resolved<V>(value: pulumi.Input<V>): Promise<V> {
  return new Promise((resolve) => {
    pulumi.output(value).apply((v) => {
      resolve(v as V);
      return v;
    });
  });
}

interface Registration {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
  /** Key of the provider the SDK said manages this resource, "" for none. */
  provider: string;
  /** The state the mocked AWS API answered with. */
  state: Record<string, unknown>;
  /** Key of the parent resource, "" for none. */
  parent: string;
  /** Keys of the resources passed in the `dependsOn` option. */
  dependsOn: string[];
  /** Keys of every dependency sent to the engine (explicit and through inputs). */
  rpcDeps: string[];
  /** Input name -> keys of the resources that input's value came from. */
  propertyDeps: Record<string, string[]>;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): {
    forEach(cb: (deps: { getUrnsList(): string[] }, prop: string) => void): void;
  };
}

interface OutputsRequest {
  getUrn(): string;
  getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined;
}

interface Capture {
  regs: Map<string, Registration>;
  calls: string[];
  infra: CopilotInfra;
  /** Resource objects by key, for reading component properties. */
  objects: Map<string, pulumi.Resource>;
  /** What each component passed to registerOutputs. */
  registeredOutputs: Map<string, Record<string, unknown>>;
}

/** The state AWS would report after creating the resource. */
function awsState(
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
async function construct(
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

  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: unknown): Promise<void>;
    registerResourceOutputs(req: OutputsRequest, cb: unknown): void;
  };
  const rpc = new Map<string, Pick<Registration, "parent" | "rpcDeps" | "propertyDeps">>();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const propertyDeps: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((deps, prop) => {
      propertyDeps[prop] = deps.getUrnsList().map(keyOfUrn).sort();
    });
    rpc.set(key(req.getType(), req.getName()), {
      parent: req.getParent() ? keyOfUrn(req.getParent()) : "",
      rpcDeps: req.getDependenciesList().map(keyOfUrn).sort(),
      propertyDeps,
    });
    return register(req, cb);
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
async function untilRegistered(outputs: Map<string, unknown>, k: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!outputs.has(k)) {
    assert.ok(Date.now() < deadline, `${k} never registered its outputs`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function reg(c: Capture, type: string, name: string): Registration {
  const r = c.regs.get(key(type, name));
  assert.ok(r, `no ${key(type, name)}; have ${[...c.regs.keys()].join(", ")}`);
  return r;
}

function only(c: Capture, type: string): Registration {
  const all = [...c.regs.values()].filter((r) => r.type === type);
  assert.equal(all.length, 1, `exactly one ${type}`);
  return all[0]!;
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: string | string[];
  Principal?: { Service?: string };
}

function statements(doc: unknown): Statement[] {
  assert.equal(typeof doc, "string", "policy documents are sent as JSON text");
  const parsed = JSON.parse(doc as string) as { Version: string; Statement: Statement[] };
  assert.equal(parsed.Version, "2012-10-17");
  return parsed.Statement;
}

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

// --- tests ------------------------------------------------------------------------------------

const NAME = "copilot";
const PROJECT = "shop";

describe("CopilotInfra under mocks (eu-west-1)", () => {
  const REGION = "eu-west-1";
  let c: Capture;
  let bucketName: string;
  let bucketArn: string;
  let indexArn: string;

  before(async () => {
    c = await construct(NAME, { projectName: PROJECT, region: REGION });
    bucketName = `${PROJECT}-kb-src-${BUCKET_SUFFIX}`;
    bucketArn = `arn:aws:s3:::${bucketName}`;
    indexArn =
      `arn:aws:s3vectors:${REGION}:${ACCOUNT}:bucket/${PROJECT}-kb-vectors` +
      `/index/${PROJECT}-kb-index`;
  });

  it("registers exactly these resources, named from the component name, with these parents", () => {
    const infra = key(T.Infra, NAME);
    const mon = key(T.DsqlComponent, `${NAME}-monitored`);
    const cop = key(T.DsqlComponent, `${NAME}-copilot`);
    const kb = key(T.KbComponent, `${NAME}-kb`);
    const expected: Record<string, string> = {
      [infra]: "",
      [key(T.Provider, `${NAME}-aws`)]: infra,
      [mon]: infra,
      [key(T.Cluster, `${NAME}-monitored`)]: mon,
      [cop]: infra,
      [key(T.Cluster, `${NAME}-copilot`)]: cop,
      [kb]: infra,
      [key(T.Bucket, `${NAME}-kb-source`)]: kb,
      [key(T.Versioning, `${NAME}-kb-source-versioning`)]: kb,
      [key(T.Sse, `${NAME}-kb-source-sse`)]: kb,
      [key(T.Notification, `${NAME}-kb-source-events`)]: kb,
      [key(T.VectorBucket, `${NAME}-kb-vectors`)]: kb,
      [key(T.Index, `${NAME}-kb-index`)]: kb,
      [key(T.Role, `${NAME}-kb-role`)]: kb,
      [key(T.RolePolicy, `${NAME}-kb-role-policy`)]: kb,
      [key(T.Kb, `${NAME}-kb-kb`)]: kb,
      [key(T.DataSource, `${NAME}-kb-data-source`)]: kb,
    };
    const actual = Object.fromEntries([...c.regs].map(([k, r]) => [k, r.parent]));
    assert.deepEqual(actual, expected);

    const counts: Record<string, number> = {};
    for (const r of c.regs.values()) counts[r.type] = (counts[r.type] ?? 0) + 1;
    assert.deepEqual(counts, {
      [T.Infra]: 1,
      [T.Provider]: 1,
      [T.DsqlComponent]: 2,
      [T.Cluster]: 2,
      [T.KbComponent]: 1,
      [T.Bucket]: 1,
      [T.Versioning]: 1,
      [T.Sse]: 1,
      [T.Notification]: 1,
      [T.VectorBucket]: 1,
      [T.Index]: 1,
      [T.Role]: 1,
      [T.RolePolicy]: 1,
      [T.Kb]: 1,
      [T.DataSource]: 1,
    });
    for (const r of c.regs.values()) {
      assert.equal(r.custom, !r.type.startsWith("envctl:"), `${r.type} custom flag`);
    }
  });

  it("makes no provider function calls", () => {
    assert.deepEqual(c.calls, []);
  });

  it("every AWS resource is managed by the component's own provider, pinned to the region", () => {
    const provider = key(T.Provider, `${NAME}-aws`);
    assert.equal(reg(c, T.Provider, `${NAME}-aws`).inputs.region, REGION);
    const aws = [...c.regs.values()].filter((r) => r.type.startsWith("aws:"));
    assert.equal(aws.length, 12);
    for (const r of aws) {
      assert.equal(r.provider, provider, `${r.name} provider`);
      // The ambient config names another region; the mock reports the managing provider's.
      if ("region" in r.state) assert.equal(r.state.region, REGION, `${r.name} region`);
      assert.equal(r.inputs.region, undefined, `${r.name} takes its region from the provider`);
    }
  });

  it("DSQL clusters: deletion protection off, Name tags from the project name", () => {
    assert.deepEqual(reg(c, T.Cluster, `${NAME}-monitored`).inputs, {
      deletionProtectionEnabled: false,
      tags: { Name: `${PROJECT}-monitored-dsql` },
    });
    assert.deepEqual(reg(c, T.Cluster, `${NAME}-copilot`).inputs, {
      deletionProtectionEnabled: false,
      tags: { Name: `${PROJECT}-copilot-dsql` },
    });
  });

  it("source bucket: prefixed, emptied on destroy, versioned, AES256, EventBridge on", () => {
    assert.deepEqual(only(c, T.Bucket).inputs, {
      bucketPrefix: `${PROJECT}-kb-src-`,
      forceDestroy: true,
    });
    assert.deepEqual(only(c, T.Versioning).inputs, {
      bucket: bucketName,
      versioningConfiguration: { status: "Enabled" },
    });
    assert.deepEqual(only(c, T.Sse).inputs, {
      bucket: bucketName,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });
    assert.deepEqual(only(c, T.Notification).inputs, { bucket: bucketName, eventbridge: true });
    const bucket = key(T.Bucket, `${NAME}-kb-source`);
    for (const t of [T.Versioning, T.Sse, T.Notification]) {
      assert.deepEqual(only(c, t).propertyDeps.bucket, [bucket], `${t} waits on the bucket`);
    }
  });

  it("vector index: float32, 1024 dimensions, cosine, Bedrock's big keys non-filterable", () => {
    assert.deepEqual(only(c, T.VectorBucket).inputs, {
      vectorBucketName: `${PROJECT}-kb-vectors`,
      forceDestroy: true,
    });
    assert.deepEqual(only(c, T.Index).inputs, {
      vectorBucketName: `${PROJECT}-kb-vectors`,
      indexName: `${PROJECT}-kb-index`,
      dataType: "float32",
      dimension: 1024,
      distanceMetric: "cosine",
      metadataConfiguration: {
        nonFilterableMetadataKeys: ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"],
      },
    });
    assert.deepEqual(only(c, T.Index).propertyDeps.vectorBucketName, [
      key(T.VectorBucket, `${NAME}-kb-vectors`),
    ]);
  });

  it("service role: named from the project, assumable by Bedrock only", () => {
    const role = only(c, T.Role);
    assert.equal(role.inputs.name, `${PROJECT}-kb-role`);
    assert.deepEqual(Object.keys(role.inputs).sort(), ["assumeRolePolicy", "name"]);
    assert.deepEqual(statements(role.inputs.assumeRolePolicy), [
      {
        Effect: "Allow",
        Principal: { Service: "bedrock.amazonaws.com" },
        Action: "sts:AssumeRole",
      },
    ]);
  });

  it("role policy: exactly S3 read, S3 Vectors index access and InvokeModel, each on its ARN", () => {
    const policy = only(c, T.RolePolicy);
    assert.equal(policy.inputs.role, `${PROJECT}-kb-role`, "attached to the service role");
    const granted: Record<string, string[]> = {};
    for (const s of statements(policy.inputs.policy)) {
      assert.equal(s.Effect, "Allow");
      for (const action of list(s.Action)) {
        granted[action] = [...(granted[action] ?? []), ...list(s.Resource)].sort();
      }
    }
    const onIndex = [indexArn];
    assert.deepEqual(granted, {
      "s3:ListBucket": [bucketArn],
      "s3:GetObject": [`${bucketArn}/*`],
      "s3vectors:GetIndex": onIndex,
      "s3vectors:QueryVectors": onIndex,
      "s3vectors:PutVectors": onIndex,
      "s3vectors:GetVectors": onIndex,
      "s3vectors:DeleteVectors": onIndex,
      "bedrock:InvokeModel": [
        "arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-text-v2:0",
      ],
    });
  });

  it("knowledge base: VECTOR with Titan V2 (1024, FLOAT32), stored in the S3 Vectors index", () => {
    const kb = only(c, T.Kb);
    assert.deepEqual(kb.inputs, {
      name: `${PROJECT}-kb`,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/${PROJECT}-kb-role`,
      knowledgeBaseConfiguration: {
        type: "VECTOR",
        vectorKnowledgeBaseConfiguration: {
          embeddingModelArn:
            "arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-text-v2:0",
          embeddingModelConfiguration: {
            bedrockEmbeddingModelConfiguration: { dimensions: 1024, embeddingDataType: "FLOAT32" },
          },
        },
      },
      storageConfiguration: { type: "S3_VECTORS", s3VectorsConfiguration: { indexArn } },
    });
  });

  it("knowledge base waits on the role policy, not only on the role (dependencies sent)", () => {
    const kb = only(c, T.Kb);
    const policy = key(T.RolePolicy, `${NAME}-kb-role-policy`);
    const role = key(T.Role, `${NAME}-kb-role`);
    const index = key(T.Index, `${NAME}-kb-index`);
    assert.deepEqual(kb.dependsOn, [policy], "dependsOn option");
    assert.ok(kb.rpcDeps.includes(policy), `sent deps ${kb.rpcDeps.join(", ")} lack the policy`);
    assert.deepEqual(kb.rpcDeps, [policy, role, index].sort());
    assert.deepEqual(kb.propertyDeps.roleArn, [role]);
    assert.deepEqual(kb.propertyDeps.storageConfiguration, [index]);
    // The policy itself names the bucket and index ARNs, so it waits on both.
    const sent = only(c, T.RolePolicy).rpcDeps;
    for (const dep of [role, index, key(T.Bucket, `${NAME}-kb-source`)]) {
      assert.ok(sent.includes(dep), `role policy waits on ${dep}`);
    }
  });

  it("data source: S3 over the source bucket, in the knowledge base", () => {
    const ds = only(c, T.DataSource);
    assert.deepEqual(ds.inputs, {
      name: `${PROJECT}-kb-source`,
      knowledgeBaseId: "KBID456",
      dataSourceConfiguration: { type: "S3", s3Configuration: { bucketArn } },
    });
    assert.deepEqual(ds.propertyDeps.knowledgeBaseId, [key(T.Kb, `${NAME}-kb-kb`)]);
  });

  it("outputs: the Terraform module's names; data source id, not the composite resource id", async () => {
    const expected = {
      monitored_dsql_endpoint: "abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws",
      copilot_dsql_endpoint: "zyxwvutsrqponmlkjihgfedcba.dsql.eu-west-1.on.aws",
      knowledge_base_id: "KBID456",
      data_source_id: "DSID123",
      kb_source_bucket: bucketName,
      region: REGION,
    };
    assert.deepEqual(await resolved(pulumi.output(c.infra.outputs)), expected);
    assert.deepEqual(c.registeredOutputs.get(key(T.Infra, NAME)), expected, "registerOutputs");
  });

  it("component properties: clusters' identifier/arn/endpoint, knowledge base ids and ARNs", async () => {
    const cluster = c.objects.get(key(T.DsqlComponent, `${NAME}-monitored`)) as unknown as {
      identifier: pulumi.Output<string>;
      arn: pulumi.Output<string>;
      endpoint: pulumi.Output<string>;
    };
    assert.deepEqual(
      await resolved(pulumi.output({ i: cluster.identifier, a: cluster.arn, e: cluster.endpoint })),
      {
        i: "abcdefghijklmnopqrstuvwxyz",
        a: `arn:aws:dsql:${REGION}:${ACCOUNT}:cluster/abcdefghijklmnopqrstuvwxyz`,
        e: "abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws",
      },
    );
    const kb = c.objects.get(key(T.KbComponent, `${NAME}-kb`)) as unknown as Record<
      string,
      pulumi.Output<string>
    >;
    const props = [
      "knowledgeBaseId",
      "dataSourceId",
      "bucketName",
      "bucketArn",
      "indexArn",
      "roleArn",
    ];
    const values = await resolved(pulumi.output(Object.fromEntries(props.map((p) => [p, kb[p]]))));
    assert.deepEqual(values, {
      knowledgeBaseId: "KBID456",
      dataSourceId: "DSID123",
      bucketName,
      bucketArn,
      indexArn,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/${PROJECT}-kb-role`,
    });
    assert.deepEqual(
      Object.keys(c.registeredOutputs.get(key(T.KbComponent, `${NAME}-kb`)) ?? {}).sort(),
      [...props].sort(),
    );
  });
});

describe("CopilotInfra in another region", () => {
  const REGION = "us-east-2";
  let c: Capture;
  let outputs: { [K in keyof CopilotInfraOutputs]: string };

  before(async () => {
    c = await construct("other", { projectName: "acme", region: REGION });
    outputs = await resolved(pulumi.output(c.infra.outputs));
  });

  it("pins the provider and every resource's reported region to it", () => {
    assert.equal(reg(c, T.Provider, "other-aws").inputs.region, REGION);
    for (const r of c.regs.values()) {
      if (!r.type.startsWith("aws:")) continue;
      assert.equal(r.provider, key(T.Provider, "other-aws"), `${r.name} provider`);
      if ("region" in r.state) assert.equal(r.state.region, REGION, `${r.name} region`);
    }
  });

  it("builds both endpoints, the embedding ARN and the region output from it", () => {
    assert.equal(
      outputs.monitored_dsql_endpoint,
      "abcdefghijklmnopqrstuvwxyz.dsql.us-east-2.on.aws",
    );
    assert.equal(outputs.copilot_dsql_endpoint, "zyxwvutsrqponmlkjihgfedcba.dsql.us-east-2.on.aws");
    assert.equal(outputs.region, REGION);
    assert.equal(outputs.kb_source_bucket, `acme-kb-src-${BUCKET_SUFFIX}`);
    const kb = only(c, T.Kb).inputs as {
      knowledgeBaseConfiguration: {
        vectorKnowledgeBaseConfiguration: { embeddingModelArn: string };
      };
    };
    assert.equal(
      kb.knowledgeBaseConfiguration.vectorKnowledgeBaseConfiguration.embeddingModelArn,
      "arn:aws:bedrock:us-east-2::foundation-model/amazon.titan-embed-text-v2:0",
    );
    assert.match(only(c, T.RolePolicy).inputs.policy as string, /bedrock:us-east-2::foundation/);
  });
});

describe("pure helpers", () => {
  it("dsqlEndpoint: <identifier>.dsql.<region>.on.aws", () => {
    assert.equal(dsqlEndpoint("abc123", "eu-west-1"), "abc123.dsql.eu-west-1.on.aws");
    assert.equal(dsqlEndpoint("xyz", "ap-northeast-1"), "xyz.dsql.ap-northeast-1.on.aws");
  });

  it("titanEmbeddingArn: an account-less foundation-model ARN in the region", () => {
    assert.equal(
      titanEmbeddingArn("eu-central-1"),
      "arn:aws:bedrock:eu-central-1::foundation-model/amazon.titan-embed-text-v2:0",
    );
  });
});

describe("module loading", () => {
  const LOADED = `const aws = () => Object.keys(require.cache).some((k) => k.includes("/node_modules/@pulumi/aws/"));`;
  const run = (script: string): unknown =>
    JSON.parse(
      execFileSync(process.execPath, ["--import", "tsx", "-e", `${LOADED}\n${script}`], {
        cwd: ROOT,
        encoding: "utf8",
      }),
    );

  it("the devenv component graph does not load @pulumi/aws; components/copilot does", () => {
    const script = `require("./components/devenv/devenv.ts");
      const devenv = aws();
      require("./components/copilot/index.ts");
      console.log(JSON.stringify({ devenv, copilot: aws() }));`;
    assert.deepEqual(run(script), { devenv: false, copilot: true });
  });
});
