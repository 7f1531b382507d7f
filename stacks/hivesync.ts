/**
 * The hivesync program: the app's services as a DevEnv whose secret variables are filled from
 * the stack's secret config (and from generated secrets kept in state), then, on a warm env,
 * the deploy gate: the deploy steps and the health check. A linode target first makes its VM
 * (LinodeHost); every Docker object of the env is then made over SSH on the VM's address once
 * the VM answers SSH and runs Docker.
 */
import * as pulumi from "@pulumi/pulumi";
import { DevEnv } from "../components/devenv/devenv";
import { DeployGate } from "../components/hivesync/deploy";
import type * as linodeModule from "../components/hivesync/linode-host";
import type { LinodeHost } from "../components/hivesync/linode-host";
import { linodeProblem } from "../lib/doctor/linode";
import { cloudInit } from "../lib/kinds/hivesync/cloud-init";
import { dockerEndpoint } from "../lib/kinds/hivesync/target";
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
  const vm = linodeHost(env);
  const dockerHost = vm?.endpoint ?? env.dockerHost;
  const dev = new DevEnv(env.name, env, {}, { outputs, ...(vm ? { dockerHost } : {}) });
  let gate: DeployGate | undefined;
  const gated = h.deploy.after.length > 0 || h.health.postgres || h.health.redis || h.proxy;
  if (env.state === "warm" && gated) {
    gate = new DeployGate(`${env.name}-deploy`, {
      env: env.name,
      steps: h.deploy.after,
      health: h.health,
      ...(h.proxy ? { proxy: h.proxy } : {}),
      ...(dockerHost ? { dockerHost } : {}),
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
  // A linode env's endpoint is an output the CLI records: status, logs and backup reach the VM.
  const envOut: pulumi.Output<Record<string, unknown>> = vm
    ? pulumi
        .all([dev.outputs, vm.host.address, vm.endpoint])
        .apply(([o, address, endpoint]): Record<string, unknown> => ({
          ...o,
          host: { address, dockerHost: endpoint },
        }))
    : dev.outputs;
  return { env: envOut, deploy };
}

/**
 * The VM of a linode target and the Docker endpoint on it (`ssh://root@ADDRESS:22`), an output
 * that depends on the VM's readiness check: an object made with it waits for SSH and Docker.
 */
function linodeHost(
  env: ResolvedEnv,
): { host: LinodeHost; endpoint: pulumi.Output<string> } | undefined {
  const l = env.hivesync?.linode;
  if (env.hivesync?.target !== "linode" || !l) return undefined;
  // `pulumi preview` run by hand gets the same refusal as envctl's own verbs.
  const problem = linodeProblem();
  if (problem) throw new pulumi.RunError(`env ${env.name} (hivesync.target linode): ${problem}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- @pulumi/linode only when used
  const { LinodeHost } = require("../components/hivesync/linode-host") as typeof linodeModule;
  const host = new LinodeHost(`${env.name}-host`, {
    env: env.name,
    region: l.region,
    type: l.type,
    image: l.image,
    sshPublicKey: l.publicKey,
    cloudInit: cloudInit(),
    sshKeyFile: l.keyFile,
    readyTimeoutMs: l.readyTimeoutMs,
  });
  const endpoint = pulumi
    .all([host.address, host.ready.id])
    .apply(([address]) =>
      dockerEndpoint({ user: "root", host: address, port: 22 }, l.identityFile),
    );
  return { host, endpoint };
}
