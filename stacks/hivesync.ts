/**
 * The hivesync program: the app's services as a DevEnv whose secret variables are filled from
 * the stack's secret config (and from generated secrets kept in state), then, on a warm env,
 * the deploy gate: the deploy steps and the health check.
 */
import * as pulumi from "@pulumi/pulumi";
import { DevEnv } from "../components/devenv/devenv";
import { DeployGate } from "../components/hivesync/deploy";
import { EnvctlResource } from "../components/shared/dynamic";
import type { ResolvedEnv } from "../lib/spec/model";

export function program(env: ResolvedEnv): pulumi.Output<Record<string, unknown>> {
  const h = env.hivesync;
  if (!h) throw new Error(`env ${env.name} has no hivesync settings`);
  const outputs: Record<string, pulumi.Input<string>> = {};
  if (h.secrets.length > 0) {
    const all = new pulumi.Config("envctl").getSecretObject<Record<string, string>>("secrets");
    if (!all) {
      throw new pulumi.RunError(
        `env ${env.name}: the stack's secret config envctl:secrets is missing; run \`envctl up ${env.name}\` from the app's checkout (it sets it from the env file)`,
      );
    }
    for (const t of h.secrets) {
      outputs[t] = all.apply((s) => {
        const v = s[t];
        if (v === undefined)
          throw new Error(`env ${env.name}: envctl:secrets has no value for ${t}`);
        return v;
      });
    }
  }
  for (const [v, t] of Object.entries(h.generated)) {
    const secret = new EnvctlResource(
      "GeneratedSecret",
      "secret",
      `${env.name}-generated-${v.toLowerCase()}`,
      { name: v, value: undefined },
      { additionalSecretOutputs: ["value"] },
    );
    outputs[t] = secret.output<string>("value");
  }
  const dev = new DevEnv(env.name, env, {}, { outputs });
  if (env.state === "warm" && (h.deploy.after.length > 0 || h.health.postgres || h.health.redis)) {
    new DeployGate(`${env.name}-deploy`, {
      env: env.name,
      steps: h.deploy.after,
      health: h.health,
      containers: Object.values(dev.services).flatMap((s) =>
        "containers" in s ? s.containers : [s.process],
      ),
    });
  }
  return dev.outputs;
}
