import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { contextHash } from "../../lib/docker/context-hash";
import { containerName, envLabels, imageTag } from "../../lib/core/names";
import type { DockerOptions, ResolvedContainer } from "../../lib/spec/model";
import { fillTokens, tokensIn } from "../../lib/spec/copilot";
import { inCheckout, inWorktree } from "../../lib/spec/worktree-paths";
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
  /**
   * What its dependents wait for (model.ts conditions): `completed` (it runs to exit 0),
   * `started` (its health, if any, is waited for by a separate gate, `ready`), or `healthy`.
   * @default "healthy"
   */
  ready?: "healthy" | "started" | "completed";
  /** Docker network names of the env's declared networks (and `default`), by spec name. */
  networks?: Record<string, pulumi.Input<string>>;
  /** Docker names of external volumes, by spec name: mounted as they are. */
  externalVolumes?: Record<string, string>;
  /** The env's state directory: files given by value are written under it (files/CONTAINER). */
  stateDir?: string;
  /** Values of the output tokens its environment carries (DevEnvInputs.outputs). */
  outputs?: Record<string, pulumi.Input<string>>;
  /** The Docker engine it runs on (`ssh://user@host`). @default the local one */
  dockerHost?: pulumi.Input<string>;
  /**
   * On a remote engine, where the checkout's bind sources live on that host: a bind of
   * `<checkout>/data` mounts `<remoteRoot>/data`.
   */
  remoteRoot?: string;
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
    /** The image each service runs by name, for `service:NAME` build contexts. */
    serviceTags?: Record<string, string>;
    /** The engine the image is built on. @default the local one */
    dockerHost?: pulumi.Input<string>;
  },
  opts: pulumi.CustomResourceOptions,
): { image: pulumi.Input<string>; resource?: EnvctlResource } {
  const svc = args.service;
  if (!svc.build) return { image: svc.image! };
  const b = svc.build;
  const context = args.worktree
    ? args.worktree.path.apply((dir) => inWorktree(b.context, args.worktree!.root, dir))
    : pulumi.output(b.context);
  // Named contexts that are directories of the checkout are read from the worktree too; another
  // service's image (`service:NAME`) is that service's tag.
  const contexts = b.additionalContexts
    ? pulumi
        .output(args.worktree?.path ?? "")
        .apply((dir) =>
          Object.fromEntries(
            Object.entries(b.additionalContexts!).map(([k, v]) => [
              k,
              v.startsWith("service:")
                ? (args.serviceTags?.[v.slice("service:".length)] ?? v)
                : v.startsWith("/") && args.worktree
                  ? inWorktree(v, args.worktree.root, dir)
                  : v,
            ]),
          ),
        )
    : undefined;
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
      ...(b.target ? { target: b.target } : {}),
      ...(b.dockerfileInline ? { dockerfileInline: b.dockerfileInline } : {}),
      ...(contexts ? { additionalContexts: contexts } : {}),
      ...(b.tag ? { extraTag: b.tag } : {}),
      ...(svc.docker?.platform ? { platform: svc.docker.platform } : {}),
      ...(args.dockerHost ? { dockerHost: args.dockerHost } : {}),
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
  /** The first container: dependents wait on it, so they start after it is ready. */
  readonly container: EnvctlResource;
  /** Every replica's container (the first is `container`). */
  readonly containers: EnvctlResource[] = [];
  /** The health gate when the containers do not wait for their own health (ready `started`). */
  readonly healthGate?: EnvctlResource;

  constructor(
    name: string,
    args: ContainerServiceArgs,
    opts: pulumi.ComponentResourceOptions = {},
  ) {
    super("envctl:devenv:ContainerService", name, {}, opts);
    const svc = args.service;
    const labels = { ...svc.labels, ...envLabels(args.env, svc.name) };
    const wt = args.worktree;
    const volumes = svc.volumes.map((v) => ({
      source:
        v.kind === "volume"
          ? (args.externalVolumes?.[v.source] ?? args.volumes[v.source]!)
          : v.kind === "tmpfs"
            ? ""
            : args.remoteRoot && wt
              ? remoteSource(v.source, wt.root, args.remoteRoot, svc.name)
              : wt
                ? inWorktree(v.source, wt.root, wt.dir)
                : v.source,
      target: v.target,
      readOnly: v.readOnly,
      kind: v.kind,
      ...(v.noCopy ? { noCopy: true } : {}),
      ...(v.tmpfsSize !== undefined ? { tmpfsSize: v.tmpfsSize } : {}),
      ...(v.tmpfsMode !== undefined ? { tmpfsMode: v.tmpfsMode } : {}),
    }));
    const ownName = (service: string): string => containerName(args.env, service);
    const docker = svc.docker ? resolveNames(svc.docker, ownName) : undefined;
    const nets = networksOf(svc, args);
    const ready = args.ready ?? "healthy";
    const replicas = Math.max(1, svc.replicas ?? 1);
    if (svc.rollout === "start-first" && (replicas > 1 || svc.ports.length > 0)) {
      throw new Error(`${svc.name}: a start-first rollout takes one container without host ports`);
    }
    for (let i = 1; i <= replicas; i++) {
      const c = new EnvctlResource(
        "Container",
        "container",
        i === 1 ? name : `${name}-${i}`,
        {
          name: i === 1 ? ownName(svc.name) : `${ownName(svc.name)}-${i}`,
          image: args.image,
          command: svc.command,
          entrypoint: svc.entrypoint,
          env: withOutputs(svc.env, args.outputs),
          ports: svc.ports.map((p) => ({
            container: p.container,
            host: p.host,
            protocol: p.protocol,
            ...(p.hostIp ? { hostIp: p.hostIp } : {}),
          })),
          volumes,
          network: nets.primary.network,
          aliases: nets.primary.aliases,
          labels,
          health: svc.health,
          ...(svc.ulimits ? { ulimits: svc.ulimits } : {}),
          ...(docker?.links?.length ? { links: docker.links } : {}),
          ...(nets.others.length ? { networks: nets.others } : {}),
          ...(docker && Object.keys(docker).length ? { docker } : {}),
          // Secrets and configs given by value are Pulumi secrets: encrypted in state.
          ...(svc.files?.length
            ? {
                files: pulumi.secret(svc.files),
                ...(args.stateDir
                  ? {
                      filesDir: path.join(
                        args.stateDir,
                        "files",
                        i === 1 ? ownName(svc.name) : `${ownName(svc.name)}-${i}`,
                      ),
                    }
                  : {}),
              }
            : {}),
          ...(ready !== "healthy" ? { ready } : {}),
          ...(args.dockerHost ? { dockerHost: args.dockerHost } : {}),
          ...(svc.rollout === "start-first" ? { startFirst: true, containerName: undefined } : {}),
          containerId: undefined,
        },
        { parent: this, dependsOn: args.dependsOn },
      );
      this.containers.push(c);
    }
    this.container = this.containers[0]!;
    if (ready === "started" && svc.health) {
      this.healthGate = new EnvctlResource(
        "Ready",
        "ready",
        `${name}-ready`,
        {
          name:
            svc.rollout === "start-first"
              ? this.container.output<string>("containerName")
              : ownName(svc.name),
          health: svc.health,
          ports: svc.ports.map((p) => ({
            container: p.container,
            host: p.host,
            protocol: p.protocol,
          })),
          containerId: this.container.output<string>("containerId"),
          ...(args.dockerHost ? { dockerHost: args.dockerHost } : {}),
        },
        { parent: this, dependsOn: this.containers },
      );
    }
    this.containerName = this.container.output<string>(
      svc.rollout === "start-first" ? "containerName" : "name",
    );
    this.image = pulumi.output(args.image);
    this.registerOutputs({ containerName: this.containerName, image: this.image });
  }
}

/** A bind source of the checkout, as the remote host has it under `remoteRoot`. */
function remoteSource(source: string, root: string, remoteRoot: string, service: string): string {
  const rel = inCheckout(root, source);
  if (rel === undefined) {
    throw new Error(
      `${service}: bind source ${source} is outside the checkout; on a remote target binds are made under ${remoteRoot}`,
    );
  }
  return path.posix.join(remoteRoot, rel);
}

/** Other services' names in links, volumes_from and network_mode -> their container names. */
function resolveNames(o: DockerOptions, own: (service: string) => string): DockerOptions {
  const out: DockerOptions = { ...o };
  delete out.networks;
  if (o.links) {
    out.links = o.links.map((l) => {
      const [svc = l, alias = svc] = l.split(":");
      return `${own(svc)}:${alias}`;
    });
  }
  if (o.volumes_from) {
    out.volumes_from = o.volumes_from.map((v) =>
      v.startsWith("container:")
        ? v.slice("container:".length)
        : `${own(v.split(":")[0]!)}${v.includes(":") ? v.slice(v.indexOf(":")) : ""}`,
    );
  }
  if (o.network_mode?.startsWith("service:"))
    out.network_mode = `container:${own(o.network_mode.slice("service:".length))}`;
  return out;
}

/** The network a container is created on and the ones it joins after, with its names there. */
function networksOf(
  svc: ResolvedContainer,
  args: ContainerServiceArgs,
): {
  primary: { network: pulumi.Input<string>; aliases: string[] };
  others: { name: pulumi.Input<string>; aliases: string[]; ipv4?: string; ipv6?: string }[];
} {
  const listed = Object.entries(svc.docker?.networks ?? {});
  if (listed.length === 0)
    return { primary: { network: args.network, aliases: [svc.name] }, others: [] };
  // Compose attaches in priority order (highest first), then by name.
  listed.sort(([a, x], [b, y]) => (y.priority ?? 0) - (x.priority ?? 0) || a.localeCompare(b));
  const entries = listed.map(([n, o]) => ({
    name: n === "default" ? args.network : (args.networks?.[n] ?? n),
    aliases: [svc.name, ...(o.aliases ?? [])],
    ...(o.ipv4_address ? { ipv4: o.ipv4_address } : {}),
    ...(o.ipv6_address ? { ipv6: o.ipv6_address } : {}),
  }));
  const [first, ...rest] = entries;
  return { primary: { network: first!.name, aliases: first!.aliases }, others: rest };
}

/** `env` with each output token in its values replaced by that output (once it is known). */
function withOutputs(
  env: Record<string, string>,
  outputs: Record<string, pulumi.Input<string>> | undefined,
): Record<string, pulumi.Input<string>> {
  if (!outputs) return env;
  return Object.fromEntries(
    Object.entries(env).map(([k, v]): [string, pulumi.Input<string>] => {
      const used = tokensIn(v).filter((t) => t in outputs);
      if (used.length === 0) return [k, v];
      return [
        k,
        pulumi
          .all(used.map((t) => outputs[t]!))
          .apply((vals) => fillTokens(v, Object.fromEntries(used.map((t, i) => [t, vals[i]!])))),
      ];
    }),
  );
}
