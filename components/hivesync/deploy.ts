import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { containerName } from "../../lib/core/names";
import type { DeployStep, HealthSpec } from "../../lib/spec/model";
import { EnvctlResource } from "../shared/dynamic";

export interface DeployGateArgs {
  /** The env's name (its containers are `envctl-<env>-<service>`). */
  env: string;
  /** Steps run in order inside their service's container after each deploy. */
  steps: DeployStep[];
  /** The health check the deploy waits for once the steps ran. */
  health: HealthSpec;
  /** Every container of the deploy: a change to any of them runs the steps again. */
  containers: pulumi.Resource[];
  /** The Docker engine the containers run on. @default the local one */
  dockerHost?: string;
}

/**
 * What follows the containers of a deploy: its steps (migrations), each after the one before,
 * then the health check. Their trigger is a hash of the deployed containers' ids, so they run
 * once per deploy that replaced a container, and a deploy that changed nothing runs nothing.
 */
export class DeployGate extends pulumi.ComponentResource {
  readonly health: EnvctlResource;

  constructor(name: string, args: DeployGateArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("envctl:hivesync:DeployGate", name, {}, opts);
    const ids = args.containers.map((c) => (c as pulumi.CustomResource).id);
    const trigger = pulumi
      .all(ids)
      .apply((all) => createHash("sha256").update(all.join("\n")).digest("hex").slice(0, 16));
    const host = args.dockerHost ? { dockerHost: args.dockerHost } : {};
    let previous: pulumi.Resource[] = args.containers;
    args.steps.forEach((step, i) => {
      const res = new EnvctlResource(
        "DeployStep",
        "deploystep",
        `${name}-step-${i}-${stepKey(step)}`,
        {
          container: containerName(args.env, step.service),
          service: step.service,
          run: step.run,
          timeoutMs: step.timeoutMs,
          trigger,
          ...host,
        },
        { parent: this, dependsOn: previous },
      );
      previous = [res];
    });
    this.health = new EnvctlResource(
      "HealthGate",
      "healthgate",
      `${name}-health`,
      {
        env: args.env,
        health: args.health,
        trigger,
        ...host,
        status: undefined,
        reasons: undefined,
      },
      { parent: this, dependsOn: previous },
    );
    this.registerOutputs({ status: this.health.output<string>("status") });
  }
}

/** A short hash of the step, so reordering steps replaces only what moved. */
function stepKey(step: DeployStep): string {
  return createHash("sha256").update(`${step.service}\0${step.run}`).digest("hex").slice(0, 8);
}
