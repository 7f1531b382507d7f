import { createHash } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { topoOrder } from "../../lib/core/graph";
import { containerName, envLabels, imageTag, networkName, volumeName } from "../../lib/core/names";
import { runningServices, upstreamClosure } from "../../lib/kinds/devenv/lifecycle";
import { PROXY_PORT, type ResolvedEnv, type ResolvedService } from "../../lib/spec/model";
import { ContainerService, serviceImage } from "../shared/container-service";
import { EnvctlResource } from "../shared/dynamic";
import { ProcessService } from "../shared/process-service";
import { Worktree } from "../shared/worktree";
import { DEFAULT_BACKOFF, type SupervisedService } from "../../lib/supervisor/model";

export interface ServiceOutputs {
  type: "container" | "process";
  container?: string;
  log?: string;
  ports: Record<string, number>;
  urls: string[];
  /** Its `*.localhost` address through the proxy, when it has a subdomain. */
  proxy?: string;
}

/** Values other resources of the stack feed into the env (the copilot kind's AWS outputs). */
export interface DevEnvInputs {
  /**
   * The value of each output token (lib/spec/copilot.ts `outputToken`) the services'
   * environment carries: a container is made once the values it needs are known.
   */
  outputs?: Record<string, pulumi.Input<string>>;
  /**
   * The Docker engine the env's objects are made on, when the stack makes that host (a linode
   * target's VM): an output carrying the host's readiness, so each object waits for it.
   * @default env.dockerHost
   */
  dockerHost?: pulumi.Input<string>;
}

/**
 * Everything one devenv holds: worktree, env.sh, network, volumes, and the health-gated graph
 * of the services its desired state runs (warm: all; cold: cold services; stopped: none).
 * Volumes, images and the worktree stay in every state, so cool and stop lose no data.
 */
export class DevEnv extends pulumi.ComponentResource {
  readonly worktree: Worktree;
  readonly services: Record<string, ContainerService | ProcessService> = {};
  /** The env's supervisor, when a running process service has a restart policy or a watch. */
  readonly supervisor?: EnvctlResource;
  /** The env's `*.localhost` routes, while a running service has a subdomain. */
  readonly routes?: EnvctlResource;
  readonly outputs: pulumi.Output<Record<string, unknown>>;

  constructor(
    name: string,
    env: ResolvedEnv,
    opts: pulumi.ComponentResourceOptions = {},
    inputs: DevEnvInputs = {},
  ) {
    super("envctl:devenv:DevEnv", name, {}, opts);
    this.worktree = new Worktree(
      `${name}-worktree`,
      { repo: env.repo, dir: env.worktreeDir, branch: env.branch, base: env.baseRef },
      { parent: this },
    );
    const envFile = path.join(env.stateDir, "env.sh");
    const envSh = new EnvctlResource(
      "File",
      "file",
      `${name}-env-sh`,
      { path: envFile, content: env.envSh },
      { parent: this },
    );
    const envShHash = createHash("sha256").update(env.envSh).digest("hex").slice(0, 16);
    // A remote engine (a hivesync env on an SSH host) gets every Docker object made there.
    const engine = inputs.dockerHost ?? env.dockerHost;
    const host = engine ? { dockerHost: engine } : {};
    const network = new EnvctlResource(
      "Network",
      "network",
      `${name}-network`,
      { name: networkName(env.name), labels: envLabels(env.name), networkId: undefined, ...host },
      { parent: this },
    );
    // Declared networks besides the default one (compose top-level `networks`).
    const networks: Record<string, pulumi.Output<string>> = {};
    const networkResources: pulumi.Resource[] = [network];
    for (const n of env.networks ?? []) {
      const res = new EnvctlResource(
        "Network",
        "network",
        `${name}-network-${n}`,
        {
          name: `${networkName(env.name)}-${n}`,
          labels: envLabels(env.name),
          networkId: undefined,
          ...host,
        },
        { parent: this },
      );
      networks[n] = res.output<string>("name");
      networkResources.push(res);
    }
    const volumeNames = [
      ...new Set(
        env.services.flatMap((s) =>
          s.type === "container"
            ? s.volumes.filter((v) => v.kind === "volume").map((v) => v.source)
            : [],
        ),
      ),
    ];
    const volumes: Record<string, pulumi.Output<string>> = {};
    const externalVolumes: Record<string, string> = {};
    const volumeResources: pulumi.Resource[] = [];
    // `stop --volumes` (compose's `down -v`): a stopped env without its volumes; the next
    // start makes them again, empty.
    const keepVolumes = !(env.state === "stopped" && env.volumesDropped);
    for (const v of keepVolumes ? volumeNames : []) {
      const decl = env.volumes?.[v];
      // An external volume is the user's: mounted by its name, never created nor removed.
      if (decl?.external) {
        externalVolumes[v] = decl.name ?? v;
        continue;
      }
      const res = new EnvctlResource(
        "Volume",
        "volume",
        `${name}-volume-${v}`,
        {
          name: volumeName(env.name, v),
          labels: { ...decl?.labels, ...envLabels(env.name) },
          ...(decl?.driver ? { driver: decl.driver } : {}),
          ...(decl?.driverOpts ? { driverOpts: decl.driverOpts } : {}),
          ...host,
        },
        { parent: this },
      );
      volumes[v] = res.output<string>("name");
      volumeResources.push(res);
    }

    const images: Record<string, ReturnType<typeof serviceImage>> = {};
    // The image each service runs, for builds FROM another service's (`service:NAME` contexts).
    const serviceTags: Record<string, string> = {};
    for (const svc of env.services) {
      if (svc.type !== "container") continue;
      serviceTags[svc.name] = svc.build
        ? (svc.build.tag ?? imageTag(env.name, svc.name))
        : svc.image!;
    }
    // Builds that name another service's image (as a context) are made after it.
    const built = [...env.services].sort(
      (a, b) => Number(buildsFrom(a).length > 0) - Number(buildsFrom(b).length > 0),
    );
    for (const svc of built) {
      if (svc.type !== "container") continue;
      const from = buildsFrom(svc)
        .map((n) => images[n]?.resource)
        .filter((r): r is EnvctlResource => r !== undefined);
      images[svc.name] = serviceImage(
        `${name}-${svc.name}`,
        {
          env: env.name,
          service: svc,
          worktree: { root: env.root ?? env.repo, path: this.worktree.path },
          dependsOn: [this.worktree.resource, ...from],
          serviceTags,
          ...host,
        },
        {
          parent: this,
          // Images used to be children of their ContainerService.
          aliases: [
            {
              parent: pulumi.createUrn(
                `${name}-${svc.name}`,
                "envctl:devenv:ContainerService",
                this,
              ),
            },
          ],
        },
      );
    }

    const order = topoOrder(env.services.map((s) => ({ name: s.name, dependsOn: s.dependsOn })));
    if (!order.ok) throw new Error(`dependency cycle: ${order.cycle.join(" -> ")}`);
    const byName = new Map(env.services.map((s) => [s.name, s]));
    const running = runningServices(env.services, env.state, env.only);

    // First-warm init waits for the services in initAfter; warm-only services outside that
    // set (and its upstreams) wait for init.
    const initBefore = upstreamClosure(env.services, env.initAfter);
    let init: EnvctlResource | undefined;
    const gate = (svc: ResolvedService): pulumi.Resource[] =>
      init && !svc.cold && !initBefore.has(svc.name) ? [init] : [];

    const resourceOf = (n: string): pulumi.Resource => {
      const s = this.services[n]!;
      return s instanceof ProcessService ? s.process : (s.healthGate ?? s.container);
    };
    // What a dependent waits for, by its condition on `n`: a started container, one that ran to
    // completion (every replica), or a ready one (the health gate when there is one).
    const upstreamOf = (svc: ResolvedService): pulumi.Resource[] =>
      svc.dependsOn.flatMap((n) => {
        const s = this.services[n]!;
        if (s instanceof ProcessService) return [s.process];
        const cond = svc.conditions?.[n];
        return cond === "started" || cond === "completed"
          ? s.containers
          : [s.healthGate ?? s.container];
      });
    // How each container is ready: run to completion when anything needs it completed; started
    // (its health waited for by a gate) when a dependent only needs it started.
    const readyOf = (n: string): "healthy" | "started" | "completed" => {
      const conds = env.services.map((s) => s.conditions?.[n]).filter(Boolean);
      if (conds.includes("completed")) return "completed";
      return conds.includes("started") ? "started" : "healthy";
    };
    const makeInit = (): void => {
      if (init || env.state !== "warm" || env.init.length === 0) return;
      if (![...initBefore].every((n) => this.services[n])) return;
      init = new EnvctlResource(
        "Init",
        "init",
        `${name}-init`,
        { stateDir: env.stateDir, worktree: this.worktree.path, envFile, steps: env.init },
        { parent: this, dependsOn: [envSh, ...[...initBefore].map(resourceOf)] },
      );
    };
    // Services init waits for come first (the set is closed under depends_on, so topo order
    // still holds), then init, then everything else.
    const ordered = [
      ...order.order.filter((n) => initBefore.has(n)),
      ...order.order.filter((n) => !initBefore.has(n)),
    ];
    makeInit();
    for (const svcName of ordered) {
      if (!running.has(svcName)) continue;
      const svc = byName.get(svcName)!;
      const upstream = [...upstreamOf(svc), ...gate(svc)];
      if (svc.type === "process") {
        this.services[svcName] = new ProcessService(
          `${name}-${svcName}`,
          {
            service: svc,
            stateDir: env.stateDir,
            worktree: this.worktree.path,
            envFile,
            envShHash,
            dependsOn: [this.worktree.resource, envSh, ...upstream],
          },
          { parent: this },
        );
      } else {
        this.services[svcName] = new ContainerService(
          `${name}-${svcName}`,
          {
            env: env.name,
            service: svc,
            network: network.output<string>("name"),
            volumes,
            image: images[svcName]!.image,
            worktree: { root: env.root ?? env.repo, dir: env.worktreeDir },
            ready: readyOf(svcName),
            stateDir: env.stateDir,
            networks,
            externalVolumes,
            ...(inputs.outputs ? { outputs: inputs.outputs } : {}),
            ...host,
            ...(env.remoteRoot ? { remoteRoot: env.remoteRoot } : {}),
            dependsOn: [
              this.worktree.resource,
              ...networkResources,
              ...volumeResources,
              ...(images[svcName]!.resource ? [images[svcName]!.resource] : []),
              ...upstream,
            ],
          },
          { parent: this },
        );
      }
      makeInit();
    }

    this.supervisor = supervisorOf(name, env, envFile, this, this.worktree.path);
    this.routes = routesOf(name, env, this);

    // Outputs do not depend on the state (what runs is the catalog's desired state,
    // lib/kinds/devenv/lifecycle.ts withState), so a verb that only removes services can skip
    // the program (leavingResources) and leave the stack exactly as an update would.
    const services: Record<string, ServiceOutputs> = {};
    for (const svc of env.services) {
      services[svc.name] = {
        type: svc.type,
        ...(svc.type === "container"
          ? { container: containerName(env.name, svc.name) }
          : { log: path.join(env.stateDir, `${svc.name}.log`) }),
        ports: Object.fromEntries(svc.ports.map((p) => [String(p.container), p.host])),
        urls: svc.ports.filter((p) => p.protocol === "tcp").map((p) => serviceUrl(svc.health, p)),
        ...(svc.subdomain && svc.ports.some((p) => p.protocol === "tcp")
          ? {
              proxy: `http://${svc.subdomain}.${env.name}.localhost:${env.dev?.proxyPort ?? PROXY_PORT}/`,
            }
          : {}),
      };
    }
    // A start-first container has a name of its own per rollout (ContainerService).
    const rolled = Object.entries(this.services).filter(
      (e): e is [string, ContainerService] =>
        e[1] instanceof ContainerService &&
        byName.get(e[0])?.type === "container" &&
        (byName.get(e[0]) as { rollout?: string }).rollout === "start-first",
    );
    this.outputs = pulumi
      .all([
        this.worktree.path,
        this.worktree.branch,
        pulumi.all(rolled.map(([, s]) => s.containerName)),
        ...Object.values(this.services).map(doneOf),
      ])
      .apply(([worktree, branch, names]): Record<string, unknown> => {
        const out = { ...services };
        rolled.forEach(([n], i) => (out[n] = { ...out[n]!, container: names![i] }));
        return {
          env: env.name,
          block: env.block,
          base: env.base,
          worktree,
          branch,
          envSh: envFile,
          services: out,
        };
      });
    this.registerOutputs({ outputs: this.outputs });
  }
}

/**
 * The supervisor of the env's running process services (lib/supervisor): made when one of them
 * has a restart policy or a watch, after all of them (so it is deleted before them: cool, stop
 * and destroy stop it first, and it never sees their planned stops as crashes).
 */
function supervisorOf(
  name: string,
  env: ResolvedEnv,
  envFile: string,
  devenv: DevEnv,
  worktree: pulumi.Output<string>,
): EnvctlResource | undefined {
  const procs = Object.entries(devenv.services).flatMap(([n, s]) => {
    const svc = env.services.find((x) => x.name === n);
    return s instanceof ProcessService && svc?.type === "process" ? [{ svc, res: s.process }] : [];
  });
  if (!procs.some(({ svc }) => (svc.restart ?? "no") !== "no" || svc.watch)) return undefined;
  const services = worktree.apply((wt) =>
    procs.map(({ svc }): SupervisedService => ({
      name: svc.name,
      restart: svc.restart ?? "no",
      ...(svc.maxRestarts !== undefined ? { maxRestarts: svc.maxRestarts } : {}),
      ...(svc.health ? { health: svc.health } : {}),
      ports: svc.ports,
      cwd: path.join(wt, svc.dir),
      ...(svc.watch
        ? { watch: { ...svc.watch, paths: svc.watch.paths.map((p) => path.join(wt, p)) } }
        : {}),
    })),
  );
  return new EnvctlResource(
    "Supervisor",
    "supervisor",
    `${name}-supervisor`,
    {
      env: env.name,
      stateDir: env.stateDir,
      catalogFile: path.join(env.home, "catalog.db"),
      envFile,
      services,
      backoff: DEFAULT_BACKOFF,
      logLevel: env.dev?.logLevel ?? "info",
      pid: undefined,
      configHash: undefined,
    },
    { parent: devenv, dependsOn: procs.map((p) => p.res) },
  );
}

/**
 * The `*.localhost` routes of the env's running services that have a `subdomain` (lib/proxy),
 * after them: a route appears once its service is healthy, and goes first on cool or destroy.
 */
function routesOf(name: string, env: ResolvedEnv, devenv: DevEnv): EnvctlResource | undefined {
  const routed = Object.keys(devenv.services).flatMap((n) => {
    const svc = env.services.find((x) => x.name === n);
    const port = svc?.ports.find((p) => p.protocol === "tcp");
    return svc?.subdomain && port ? [{ svc, port: port.host }] : [];
  });
  if (routed.length === 0) return undefined;
  const resourceOf = (n: string): pulumi.Resource => {
    const s = devenv.services[n]!;
    return s instanceof ProcessService ? s.process : (s.healthGate ?? s.container);
  };
  return new EnvctlResource(
    "LocalRoutes",
    "localroutes",
    `${name}-routes`,
    {
      home: env.home,
      env: env.name,
      proxyPort: env.dev?.proxyPort ?? PROXY_PORT,
      routes: routed.map(({ svc, port }) => ({
        subdomain: svc.subdomain!,
        service: svc.name,
        port,
      })),
      servedPort: undefined,
    },
    { parent: devenv, dependsOn: routed.map(({ svc }) => resourceOf(svc.name)) },
  );
}

/** Services whose image a build of `svc` starts from (`service:NAME` named contexts). */
function buildsFrom(svc: ResolvedService): string[] {
  if (svc.type !== "container" || !svc.build?.additionalContexts) return [];
  return Object.values(svc.build.additionalContexts)
    .filter((v) => v.startsWith("service:"))
    .map((v) => v.slice("service:".length));
}

function doneOf(s: ContainerService | ProcessService): pulumi.Output<unknown> {
  return s instanceof ProcessService ? s.pid : s.containerName;
}

function serviceUrl(
  health: ResolvedService["health"],
  p: { container: number; host: number },
): string {
  if (health?.kind === "http" && (health.port ?? p.container) === p.container) {
    return `http://localhost:${p.host}${health.path ?? "/"}`;
  }
  return `tcp://localhost:${p.host}`;
}
