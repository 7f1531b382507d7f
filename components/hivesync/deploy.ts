import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { DeployStep, HealthSpec, ProxySpec } from "../../lib/spec/model";
import { EnvctlResource } from "../shared/dynamic";

export interface DeployGateArgs {
  /** The env's name. */
  env: string;
  /** Steps run in order inside their service's container after each deploy. */
  steps: DeployStep[];
  /** The health check the deploy waits for last. */
  health: HealthSpec;
  /** Every container of the deploy: a change to any of them runs the steps again. */
  containers: pulumi.Resource[];
  /** The Docker name of a service's (first) container, for `docker exec`. */
  containerOf: (service: string) => pulumi.Input<string>;
  /** The proxy in front of the app: switched to the new container after the steps. */
  proxy?: ProxySpec;
  /** The Docker engine the containers run on. @default the local one */
  dockerHost?: pulumi.Input<string>;
}

/**
 * What follows the containers of a deploy: its steps (migrations), each after the one before,
 * in the new containers; then, with a proxy, the switch of the proxy to the new container
 * (the old one is removed only after it, at the end of the update); then the health check.
 * The steps' trigger is a hash of the deployed containers' ids, so they run once per deploy
 * that replaced a container, and a deploy that changed nothing runs nothing.
 */
export class DeployGate extends pulumi.ComponentResource {
  readonly health: EnvctlResource;
  readonly route?: EnvctlResource;

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
          container: args.containerOf(step.service),
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
    if (args.proxy) {
      const p = args.proxy;
      this.route = new EnvctlResource(
        "ProxyRoute",
        "proxyroute",
        `${name}-route`,
        {
          container: args.containerOf("proxy"),
          upstream: args.containerOf(p.service),
          port: p.port,
          domain: p.domain,
          tls: p.tls,
          ...(p.email ? { email: p.email } : {}),
          ...host,
        },
        { parent: this, dependsOn: previous },
      );
      previous = [this.route];
    }
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
