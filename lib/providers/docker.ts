/**
 * Handlers for the Docker objects an env owns: network, volumes, images, containers. Each
 * resource may carry `dockerHost` (a Docker endpoint, lib/docker/client.ts); without it the
 * local engine is used, which is what every stack made before endpoints existed expects.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { canonicalJson } from "../core/canonical";
import { FORCE_VAR } from "../core/names";
import * as docker from "../docker/index";
import { contextHash } from "../docker/context-hash";
import type { DockerOptions, HealthCheck } from "../spec/model";
import { differs, replaceOnAnyChange, type Handler, type Props } from "./types";

/** The container's Docker name: a start-first one's own, else the name it was given. */
const realName = (props: Props): string =>
  typeof props.containerName === "string" && props.containerName
    ? props.containerName
    : (props.name as string);

/** The engine a resource lives on; undefined is the local one. */
const host = (props: Props): string | undefined =>
  typeof props.dockerHost === "string" && props.dockerHost ? props.dockerHost : undefined;

/**
 * Runs a delete on the resource's engine. Under `envctl destroy --force`, a remote engine that
 * cannot be connected to (the VM was deleted, the host is gone for good) is taken as gone, and
 * so are its objects. A host that answers but refuses (a wrong key, a changed host key) is not:
 * its failure stands, as does every failure without --force, and the destroy can run again.
 */
async function removing(props: Props, remove: () => Promise<void>): Promise<void> {
  const h = host(props);
  try {
    await remove();
  } catch (err) {
    if (!h || process.env[FORCE_VAR] !== "1" || !(await engineGone(h))) throw err;
  }
}

/** Per engine, once per provider process: a destroy asks each resource's engine again. */
const gone = new Map<string, Promise<boolean>>();

function engineGone(h: string): Promise<boolean> {
  let verdict = gone.get(h);
  if (!verdict) {
    verdict = docker
      .docker(h)
      .ping()
      .then(
        () => false,
        (err: unknown) => unreachable(err),
      );
    gone.set(h, verdict);
  }
  return verdict;
}

/** A failure to reach the engine at all: no route, refused, or no SSH handshake in time. */
function unreachable(err: unknown): boolean {
  const e = err as { level?: unknown; message?: string } | null;
  if (e?.level === "client-socket" || e?.level === "client-timeout") return true;
  if (docker.isConnectionFailure(err)) return true;
  return /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|Timed out while waiting for handshake/.test(
    e?.message ?? "",
  );
}

export const network: Handler = {
  async create(inputs) {
    const res = await docker.ensureNetwork(
      inputs.name as string,
      inputs.labels as docker.Labels,
      host(inputs),
    );
    return { id: res.id, outs: { ...inputs, networkId: res.id } };
  },
  diff: replaceOnAnyChange(["name", "labels", "dockerHost"]),
  delete: (_id, props) =>
    removing(props, () => docker.removeNetwork(props.name as string, host(props))),
};

export const volume: Handler = {
  async create(inputs) {
    const driver = {
      ...(typeof inputs.driver === "string" ? { name: inputs.driver } : {}),
      ...(inputs.driverOpts ? { options: inputs.driverOpts as Record<string, string> } : {}),
    };
    await docker.ensureVolume(
      inputs.name as string,
      inputs.labels as docker.Labels,
      host(inputs),
      driver,
    );
    return { id: inputs.name as string, outs: inputs };
  },
  diff: replaceOnAnyChange(["name", "labels", "dockerHost", "driver", "driverOpts"]),
  delete: (_id, props) =>
    removing(props, () => docker.removeVolume(props.name as string, host(props))),
};

const imageKeys = [
  "dockerHost",
  "context",
  "dockerfile",
  "args",
  "tag",
  "contextHash",
  "labels",
  "target",
  "dockerfileInline",
  "additionalContexts",
  "extraTag",
  "platform",
];
async function build(inputs: Props): Promise<Props> {
  const opt = <T>(k: string): T | undefined =>
    inputs[k] === undefined ? undefined : (inputs[k] as T);
  const res = await docker.buildImage({
    context: inputs.context as string,
    dockerfile: inputs.dockerfile as string,
    args: inputs.args as Record<string, string>,
    tag: inputs.tag as string,
    labels: inputs.labels as docker.Labels,
    ...(host(inputs) ? { dockerHost: host(inputs) } : {}),
    ...(opt<string>("target") ? { target: opt<string>("target")! } : {}),
    ...(opt<string>("dockerfileInline")
      ? { dockerfileInline: opt<string>("dockerfileInline")! }
      : {}),
    ...(opt<Record<string, string>>("additionalContexts")
      ? { additionalContexts: opt<Record<string, string>>("additionalContexts")! }
      : {}),
    ...(opt<string>("extraTag") ? { extraTag: opt<string>("extraTag")! } : {}),
    ...(opt<string>("platform") ? { platform: opt<string>("platform")! } : {}),
  });
  // The hash the program saw may predate files the build just read; record what was built.
  return {
    ...inputs,
    contextHash: contextHash(inputs.context as string),
    imageId: res.imageId,
    ...(res.contextImages.length ? { contextImages: res.contextImages } : {}),
  };
}
export const image: Handler = {
  async create(inputs) {
    const outs = await build(inputs);
    return { id: inputs.tag as string, outs };
  },
  diff(_id, olds, news) {
    const changed = differs(olds, news, imageKeys);
    return Promise.resolve({
      changes: changed.length > 0,
      replaces: changed.includes("tag") ? ["tag"] : [],
    });
  },
  async update(_id, _olds, news) {
    return { outs: await build(news) };
  },
  delete: (_id, props) =>
    removing(props, async () => {
      // The second tag (compose `image`) goes only while it still names the image built here.
      const extra = props.extraTag as string | undefined;
      if (extra && (await docker.imageId(extra, host(props))) === props.imageId) {
        await docker.removeImage(extra, host(props));
      }
      await docker.removeImage(props.tag as string, host(props));
      for (const t of (props.contextImages as string[] | undefined) ?? [])
        await docker.removeImage(t, host(props));
    }),
};

/** Inputs Docker sees: a change means a new container. */
const containerKeys = [
  "dockerHost",
  "name",
  "image",
  "command",
  "entrypoint",
  "env",
  "ports",
  "volumes",
  "network",
  "aliases",
  "labels",
  "ulimits",
  "links",
  "networks",
  "docker",
  "files",
  "filesDir",
  "ready",
  "startFirst",
];

/**
 * Which changed inputs need a new container (`replaces`) and which an update just records
 * (`updates`). Of `health`, Docker only sees a `command` check (its HEALTHCHECK); an http or tcp
 * check is envctl's own probe, read when it waits for a new container, so changing it (its
 * timing, path or port, or adding or dropping it) recreates nothing.
 */
export function containerChanges(
  olds: Props,
  news: Props,
): { replaces: string[]; updates: string[] } {
  const replaces = differs(olds, news, containerKeys);
  if (differs(olds, news, ["health"]).length === 0) return { replaces, updates: [] };
  const seen = (p: Props): string =>
    canonicalJson(docker.dockerHealthcheck(p.health as HealthCheck | undefined));
  if (seen(olds) !== seen(news)) return { replaces: [...replaces, "health"].sort(), updates: [] };
  return { replaces, updates: ["health"] };
}

export const container: Handler = {
  async create(inputs) {
    // A start-first container (a zero-downtime rollout) runs beside the one it replaces, so it
    // gets a name of its own: `name` stays the stable base, `containerName` is the real one.
    const real = inputs.startFirst
      ? `${inputs.name as string}-${randomBytes(3).toString("hex")}`
      : (inputs.name as string);
    const spec = { ...inputs, name: real } as unknown as docker.ContainerSpec;
    try {
      const res = await docker.runContainer(spec);
      return {
        id: res.id,
        outs: {
          ...inputs,
          containerId: res.id,
          ...(inputs.startFirst ? { containerName: real } : {}),
        },
      };
    } catch (err) {
      // A container that never became healthy is not recorded in state: remove it so nothing
      // leaks (a start-first one's predecessor keeps running, untouched).
      await docker.removeContainer(spec.name, spec.dockerHost).catch(() => undefined);
      throw err;
    }
  },
  async diff(_id, olds, news) {
    const { replaces, updates } = containerChanges(olds, news);
    // A container removed or stopped behind envctl's back is recreated by the next up; a
    // run-to-completion one is done once it exited with 0.
    if (replaces.length === 0) {
      const info = await docker.inspectContainer(realName(olds), host(olds));
      const done =
        olds.ready === "completed" ? info && !info.running && info.exitCode === 0 : info?.running;
      if (!done) replaces.push("containerId");
    }
    return {
      changes: replaces.length + updates.length > 0,
      replaces,
      // A fixed name or host port must be free first; a start-first container has neither.
      deleteBeforeReplace: !(news.startFirst && olds.startFirst),
    };
  },
  // Only envctl-side inputs reach here (containerChanges): store them, keep the container.
  update: (_id, olds, news) =>
    Promise.resolve({
      outs: {
        ...news,
        containerId: olds.containerId,
        ...(olds.containerName ? { containerName: olds.containerName } : {}),
      },
    }),
  async delete(_id, props) {
    await removing(props, () =>
      docker.removeContainer(
        realName(props),
        host(props),
        props.docker as DockerOptions | undefined,
      ),
    );
    if (typeof props.filesDir === "string")
      fs.rmSync(props.filesDir, { recursive: true, force: true });
  },
  async read(id, props) {
    const info = await docker.inspectContainer(realName(props), host(props));
    return info ? { id, props } : undefined;
  },
};

/**
 * The health gate of a container whose dependents only wait for it to start: the container is
 * created without waiting for its health, and this waits for it, so `warm` still ends with every
 * service healthy and the dependents that need it healthy wait here.
 */
export const ready: Handler = {
  async create(inputs) {
    await docker.waitHealthy(inputs as unknown as docker.ContainerSpec);
    return { id: `${inputs.name as string}-ready`, outs: inputs };
  },
  diff(_id, olds, news) {
    const changed = differs(olds, news, ["containerId", "name", "dockerHost", "health"]);
    return Promise.resolve({ changes: changed.length > 0, replaces: changed });
  },
  delete: () => Promise.resolve(),
};
