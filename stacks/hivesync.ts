/**
 * The hivesync program: the app's services as a DevEnv whose secret variables are filled from
 * the stack's secret config (and from generated secrets kept in state), then, on a warm env,
 * the deploy gate: the deploy steps and the health check.
 */
import * as pulumi from "@pulumi/pulumi";
import { DevEnv } from "../components/devenv/devenv";
import { DeployGate } from "../components/hivesync/deploy";
import { ContainerService } from "../components/shared/container-service";
import { EnvctlResource } from "../components/shared/dynamic";
import type { ResolvedEnv } from "../lib/spec/model";
import type { ProgramResult } from "./program";

export function program(env: ResolvedEnv): ProgramResult {
  const h = env.hivesync;
  if (!h) throw new Error(`env ${env.name} has no hivesync settings`);
  const config = new pulumi.Config("envctl");
  const outputs: Record<string, pulumi.Input<string>> = {};
  const all =
    h.secrets.length > 0 ? config.getSecretObject<Record<string, string>>("secrets") : undefined;
  if (h.secrets.length > 0) {
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
  let gate: DeployGate | undefined;
  const gated = h.deploy.after.length > 0 || h.health.postgres || h.health.redis || h.proxy;
  if (env.state === "warm" && gated) {
    gate = new DeployGate(`${env.name}-deploy`, {
      env: env.name,
      steps: h.deploy.after,
      health: h.health,
      ...(h.proxy ? { proxy: h.proxy } : {}),
      ...(env.dockerHost ? { dockerHost: env.dockerHost } : {}),
      containers: Object.values(dev.services).flatMap((s) =>
        s instanceof ContainerService ? s.containers : [s.process],
      ),
      containerOf: (service) => {
        const s = dev.services[service];
        if (!(s instanceof ContainerService))
          throw new Error(`env ${env.name}: ${service} is not a running container service`);
        return s.containerName;
      },
    });
  }
  // What `envctl rollback` returns to: this deploy (its resolved env and secret values) and
  // the one before it, which the CLI hands over as `envctl:previous`. A secret: it holds them.
  const previous = config.getSecretObject<unknown>("previous");
  const deploy = pulumi.secret(
    // Recorded only once the deploy went through (its health check passed).
    pulumi
      .all([all ?? {}, previous, dev.outputs, gate?.health.id ?? ""])
      .apply(([secrets, prev]) => ({
        current: { env, secrets },
        ...(prev ? { previous: prev } : {}),
      })),
  );
  return { env: dev.outputs, deploy };
}
