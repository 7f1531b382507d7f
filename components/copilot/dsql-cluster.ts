import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface DsqlClusterArgs {
  /** Prefix of the cluster's Name tag (`<prefix>-dsql`). */
  namePrefix: string;
  /** AWS region of the provider the cluster is created with; the endpoint is built from it. */
  region: string;
  /** Whether AWS refuses to delete the cluster; the caller owns this decision. */
  deletionProtectionEnabled: boolean;
}

/**
 * Host name clients connect to. `aws.dsql.Cluster` reports no endpoint; AWS derives it from the
 * cluster identifier and region.
 */
export function dsqlEndpoint(identifier: string, region: string): string {
  return `${identifier}.dsql.${region}.on.aws`;
}

/** A single-region Aurora DSQL cluster. */
export class DsqlCluster extends pulumi.ComponentResource {
  readonly identifier: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;
  /** `<identifier>.dsql.<region>.on.aws`. */
  readonly endpoint: pulumi.Output<string>;

  constructor(name: string, args: DsqlClusterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("envctl:copilot:DsqlCluster", name, {}, opts);
    const cluster = new aws.dsql.Cluster(
      name,
      {
        deletionProtectionEnabled: args.deletionProtectionEnabled,
        tags: { Name: `${args.namePrefix}-dsql` },
      },
      { parent: this },
    );
    this.identifier = cluster.identifier;
    this.arn = cluster.arn;
    this.endpoint = cluster.identifier.apply((id) => dsqlEndpoint(id, args.region));
    this.registerOutputs({ identifier: this.identifier, arn: this.arn, endpoint: this.endpoint });
  }
}
