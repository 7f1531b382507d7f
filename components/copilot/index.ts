// The copilot kind's AWS components. Only the copilot kind imports this, so other kinds never
// pay for loading @pulumi/aws.
export * from "./dsql-cluster";
export * from "./infra";
export * from "./knowledge-base";
