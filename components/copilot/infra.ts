import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DsqlCluster } from "./dsql-cluster";
import { KnowledgeBase } from "./knowledge-base";

export interface CopilotInfraArgs {
  /** Prefix of every AWS resource name (lowercase letters, digits, hyphens). */
  projectName: string;
  /**
   * AWS region every resource is created in, whatever the ambient AWS config says.
   * @default "eu-west-1" (applied by the caller)
   */
  region: string;
}

/**
 * Stack outputs, named as the copilot Terraform module names them. A type, not an interface, so it
 * is assignable to `Record<string, unknown>` (stack programs return it as part of their outputs).
 */
export type CopilotInfraOutputs = {
  monitored_dsql_endpoint: pulumi.Output<string>;
  copilot_dsql_endpoint: pulumi.Output<string>;
  knowledge_base_id: pulumi.Output<string>;
  data_source_id: pulumi.Output<string>;
  kb_source_bucket: pulumi.Output<string>;
  region: pulumi.Output<string>;
};

/**
 * Delete policy of every stateful child, decided here only: a copilot env is ephemeral by design,
 * so destroying it removes the DSQL clusters and empties and removes its buckets.
 */
const EPHEMERAL = { deletionProtectionEnabled: false, forceDestroy: true } as const;

/**
 * The copilot env's cloud side: the `monitored` and `copilot` Aurora DSQL clusters and the Bedrock
 * knowledge base with its source bucket, all in one explicit region.
 */
export class CopilotInfra extends pulumi.ComponentResource {
  readonly outputs: CopilotInfraOutputs;

  constructor(name: string, args: CopilotInfraArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("envctl:copilot:Infra", name, {}, opts);
    const provider = new aws.Provider(`${name}-aws`, { region: args.region }, { parent: this });
    const childOpts = { parent: this, providers: { aws: provider } };
    const p = args.projectName;

    const monitored = new DsqlCluster(
      `${name}-monitored`,
      {
        namePrefix: `${p}-monitored`,
        region: args.region,
        deletionProtectionEnabled: EPHEMERAL.deletionProtectionEnabled,
      },
      childOpts,
    );
    const copilot = new DsqlCluster(
      `${name}-copilot`,
      {
        namePrefix: `${p}-copilot`,
        region: args.region,
        deletionProtectionEnabled: EPHEMERAL.deletionProtectionEnabled,
      },
      childOpts,
    );
    const kb = new KnowledgeBase(
      `${name}-kb`,
      { namePrefix: p, region: args.region, forceDestroy: EPHEMERAL.forceDestroy },
      childOpts,
    );

    this.outputs = {
      monitored_dsql_endpoint: monitored.endpoint,
      copilot_dsql_endpoint: copilot.endpoint,
      knowledge_base_id: kb.knowledgeBaseId,
      data_source_id: kb.dataSourceId,
      kb_source_bucket: kb.bucketName,
      region: pulumi.output(args.region),
    };
    this.registerOutputs({ ...this.outputs });
  }
}
