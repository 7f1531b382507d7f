/**
 * The copilot program: the preset's services as a DevEnv and, with `infra: aws`, the AWS part
 * (two DSQL clusters, the knowledge base) whose outputs feed the containers' environment in the
 * same stack. `@pulumi/aws` loads here only, and only with the infra on.
 */
import * as pulumi from "@pulumi/pulumi";
import { DevEnv } from "../components/devenv/devenv";
import type * as infraModule from "../components/copilot/infra";
import { awsProblem } from "../lib/doctor/aws";
import type { ResolvedEnv } from "../lib/spec/model";

export function program(env: ResolvedEnv): pulumi.Output<Record<string, unknown>> {
  const c = env.copilot;
  if (!c) throw new Error(`env ${env.name} has no copilot settings`);
  if (c.infra === "none") return new DevEnv(env.name, env).outputs;
  // Run by hand (`pulumi preview`) too: the engine's own words for a missing plugin name
  // neither the fix nor the way out.
  const problem = awsProblem();
  if (problem) throw new pulumi.RunError(`env ${env.name} (copilot.infra aws): ${problem}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- @pulumi/aws only when used
  const { CopilotInfra } = require("../components/copilot/infra") as typeof infraModule;
  const infra = new CopilotInfra(`${env.name}-infra`, {
    projectName: c.prefix,
    region: c.region,
  });
  const dev = new DevEnv(env.name, env, {}, { outputs: { ...infra.outputs } });
  return pulumi
    .all([dev.outputs, pulumi.output(infra.outputs)])
    .apply(([outs, aws]): Record<string, unknown> => ({ ...outs, infra: aws }));
}
