/**
 * The copilot kind's AWS components (CopilotInfra: two DSQL clusters and a Bedrock knowledge base)
 * under Pulumi mocks. The mocks stand in for the real AWS API: the AWS provider plugin cannot be
 * installed on these machines, so `newResource` answers with the state AWS would report
 * (identifiers, ARNs, the region of the provider the resource was created with), and the RPCs
 * the SDK sends are captured to check what each resource waits on and which provider manages it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import {
  ROOT,
  ACCOUNT,
  T,
  BUCKET_SUFFIX,
  construct,
  reg,
  only,
  statements,
  list,
  type Capture,
} from "./aws-capture";
import { key, resolved } from "./harness";
import {
  dsqlEndpoint,
  titanEmbeddingArn,
  type CopilotInfraOutputs,
} from "../../components/copilot";

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
