import * as pulumi from "@pulumi/pulumi";
import { topoOrder } from "../lib/graph";
import { containerName, envLabels, networkName, volumeName } from "../lib/naming";
import type { ResolvedEnv } from "../lib/spec/model";
import { ContainerService } from "./container-service";
import { EnvctlResource } from "./dynamic";
import { Worktree } from "./worktree";

export interface ServiceOutputs {
  container: string;
  ports: Record<string, number>;
  urls: string[];
}

/** Everything one devenv holds: worktree, network, volumes and the health-gated service graph. */
export class DevEnv extends pulumi.ComponentResource {
  readonly worktree: Worktree;
  readonly services: Record<string, ContainerService> = {};
  readonly outputs: pulumi.Output<Record<string, unknown>>;

  constructor(name: string, env: ResolvedEnv, opts: pulumi.ComponentResourceOptions = {}) {
    super("envctl:devenv:DevEnv", name, {}, opts);
    this.worktree = new Worktree(
      `${name}-worktree`,
      { repo: env.repo, dir: env.worktreeDir, branch: env.branch, base: env.baseRef },
      { parent: this },
    );
    const network = new EnvctlResource(
      "Network",
      "network",
      `${name}-network`,
      { name: networkName(env.name), labels: envLabels(env.name), networkId: undefined },
      { parent: this },
    );
    const volumeNames = [
      ...new Set(
        env.services.flatMap((s) =>
          s.volumes.filter((v) => v.kind === "volume").map((v) => v.source),
        ),
      ),
    ];
    const volumes: Record<string, pulumi.Output<string>> = {};
    const volumeResources: pulumi.Resource[] = [];
    for (const v of volumeNames) {
      const res = new EnvctlResource(
        "Volume",
        "volume",
        `${name}-volume-${v}`,
        { name: volumeName(env.name, v), labels: envLabels(env.name) },
        { parent: this },
      );
      volumes[v] = res.output<string>("name");
      volumeResources.push(res);
    }

    const order = topoOrder(env.services.map((s) => ({ name: s.name, dependsOn: s.dependsOn })));
    if (!order.ok) throw new Error(`dependency cycle: ${order.cycle.join(" -> ")}`);
    const byName = new Map(env.services.map((s) => [s.name, s]));
    for (const svcName of order.order) {
      const svc = byName.get(svcName)!;
      const upstream = svc.dependsOn.map((d) => this.services[d]!.container);
      this.services[svcName] = new ContainerService(
        `${name}-${svcName}`,
        {
          env: env.name,
          service: svc,
          network: network.output<string>("name"),
          volumes,
          worktree: { repo: env.repo, path: this.worktree.path },
          dependsOn: [this.worktree.resource, network, ...volumeResources, ...upstream],
          buildDependsOn: [this.worktree.resource],
        },
        { parent: this },
      );
    }

    const services: Record<string, ServiceOutputs> = {};
    for (const svc of env.services) {
      services[svc.name] = {
        container: containerName(env.name, svc.name),
        ports: Object.fromEntries(svc.ports.map((p) => [String(p.container), p.host])),
        urls: svc.ports.filter((p) => p.protocol === "tcp").map((p) => serviceUrl(svc.health, p)),
      };
    }
    this.outputs = pulumi
      .all([
        this.worktree.path,
        this.worktree.branch,
        ...Object.values(this.services).map((s) => s.containerName),
      ])
      .apply(([path, branch]): Record<string, unknown> => ({
        env: env.name,
        block: env.block,
        base: env.base,
        worktree: path,
        branch,
        services,
      }));
    this.registerOutputs({ outputs: this.outputs });
  }
}

function serviceUrl(
  health: ResolvedEnv["services"][number]["health"],
  p: { container: number; host: number },
): string {
  if (health?.kind === "http" && (health.port ?? p.container) === p.container) {
    return `http://localhost:${p.host}${health.path ?? "/"}`;
  }
  return `tcp://localhost:${p.host}`;
}
