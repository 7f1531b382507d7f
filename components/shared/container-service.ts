import * as pulumi from "@pulumi/pulumi";
import { contextHash } from "../../lib/docker/context-hash";
import { containerName, envLabels, imageTag } from "../../lib/core/names";
import type { ResolvedContainer } from "../../lib/spec/model";
import { inWorktree } from "../../lib/spec/worktree-paths";
import { EnvctlResource } from "./dynamic";

export interface ContainerServiceArgs {
  /** Env name (labels, container and image names). */
  env: string;
  /** The service with host ports already resolved into the env's block. */
  service: ResolvedContainer;
  /** Docker network the container joins, reachable there by its service name. */
  network: pulumi.Input<string>;
  /** Docker volume names keyed by the spec's volume name. */
  volumes: Record<string, pulumi.Input<string>>;
  /** Image reference or ID (see `serviceImage`). */
  image: pulumi.Input<string>;
  /** Upstream resources (healthy services, the image, volumes) that must exist first. */
  dependsOn: pulumi.Resource[];
  /** The checkout (root) bind mounts are written against and the env's worktree (dir). */
  worktree?: { root: string; dir: string };
}

/**
 * The image a container service runs: built from the env's worktree when the service has
 * `build`. Images outlive cool/stop (only destroy removes them), so warm never rebuilds.
 */
export function serviceImage(
  name: string,
  args: {
    env: string;
    service: ResolvedContainer;
    /** The checkout's top level (EnvSpec.root) and the worktree the build reads instead. */
    worktree?: { root: string; path: pulumi.Output<string> };
    dependsOn: pulumi.Resource[];
  },
  opts: pulumi.CustomResourceOptions,
): { image: pulumi.Input<string>; resource?: EnvctlResource } {
  const svc = args.service;
  if (!svc.build) return { image: svc.image! };
  const b = svc.build;
  const context = args.worktree
    ? args.worktree.path.apply((dir) => inWorktree(b.context, args.worktree!.root, dir))
    : pulumi.output(b.context);
  const built = new EnvctlResource(
    "Image",
    "image",
    `${name}-image`,
    {
      context,
      dockerfile: b.dockerfile,
      args: b.args,
      tag: imageTag(args.env, svc.name),
      labels: envLabels(args.env, svc.name),
      // Unknown until the worktree exists, so a first preview plans a build without guessing.
      contextHash: context.apply(contextHash),
      imageId: undefined,
    },
    { ...opts, dependsOn: args.dependsOn },
  );
  return { image: built.output<string>("imageId"), resource: built };
}

/**
 * One container of an env on the env network, with host ports in the env's block, created
 * only once it reports healthy.
 */
export class ContainerService extends pulumi.ComponentResource {
  readonly containerName: pulumi.Output<string>;
  readonly image: pulumi.Output<string>;
  /** The container resource: dependents wait on it, so they start after it is healthy. */
  readonly container: EnvctlResource;

  constructor(
    name: string,
    args: ContainerServiceArgs,
    opts: pulumi.ComponentResourceOptions = {},
  ) {
    super("envctl:devenv:ContainerService", name, {}, opts);
    const svc = args.service;
    const labels = envLabels(args.env, svc.name);
    const wt = args.worktree;
    const volumes = svc.volumes.map((v) => ({
      source:
        v.kind === "volume"
          ? args.volumes[v.source]!
          : wt
            ? inWorktree(v.source, wt.root, wt.dir)
            : v.source,
      target: v.target,
      readOnly: v.readOnly,
      kind: v.kind,
    }));
    this.container = new EnvctlResource(
      "Container",
      "container",
      name,
      {
        name: containerName(args.env, svc.name),
        image: args.image,
        command: svc.command,
        entrypoint: svc.entrypoint,
        env: svc.env,
        ports: svc.ports.map((p) => ({
          container: p.container,
          host: p.host,
          protocol: p.protocol,
        })),
        volumes,
        network: args.network,
        aliases: [svc.name],
        labels,
        health: svc.health,
        ...(svc.ulimits ? { ulimits: svc.ulimits } : {}),
        containerId: undefined,
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    this.containerName = this.container.output<string>("name");
    this.image = pulumi.output(args.image);
    this.registerOutputs({ containerName: this.containerName, image: this.image });
  }
}
