/**
 * Networks, volumes, images, container logs and label queries. Idempotent: ensureX reuses an
 * existing object, removeX of one that is already gone succeeds.
 */
import type Dockerode from "dockerode";
import { LABEL_ENV, madeByEnvctl } from "../core/names";
import { docker, dockerFailure, followJsonStream, statusOf, type Labels } from "./client";

export async function ensureNetwork(
  name: string,
  labels: Labels,
  host?: string,
): Promise<{ id: string; name: string }> {
  const existing = await inspectNetwork(name, host);
  if (existing) return { id: existing.Id, name };
  try {
    const network = await docker(host).createNetwork({
      Name: name,
      Driver: "bridge",
      Labels: labels,
      CheckDuplicate: true,
    });
    return { id: network.id, name };
  } catch (err) {
    // Lost a race with a concurrent create: the other one's network is as good as ours.
    const raced = statusOf(err) === 409 ? await inspectNetwork(name, host) : undefined;
    if (raced) return { id: raced.Id, name };
    throw dockerFailure(`creating network ${name}`, err);
  }
}

/**
 * Removes the network. Containers still attached that belong to the network's own env (the
 * envctl.env label and an envctl name; made by an operation that died before its state
 * recorded them) go first; any other container on it keeps the network and is named in the
 * error.
 */
export async function removeNetwork(name: string, host?: string): Promise<void> {
  const existing = await inspectNetwork(name, host);
  if (!existing) return;
  const env = existing.Labels?.[LABEL_ENV];
  for (const [id, attached] of Object.entries(env ? (existing.Containers ?? {}) : {})) {
    const info = await docker(host)
      .getContainer(id)
      .inspect()
      .catch(() => undefined);
    // Labelled like the env but run by hand from its image: not ours to remove.
    if (!info || info.Config.Labels?.[LABEL_ENV] !== env || !madeByEnvctl([info.Name])) continue;
    await docker(host)
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch((err: unknown) => {
        if (statusOf(err) !== 404) throw dockerFailure(`removing container ${attached.Name}`, err);
      });
  }
  try {
    await docker(host).getNetwork(existing.Id).remove();
  } catch (err) {
    if (statusOf(err) === 404) return;
    throw dockerFailure(`removing network ${name}`, err);
  }
}

async function inspectNetwork(
  name: string,
  host?: string,
): Promise<Dockerode.NetworkInspectInfo | undefined> {
  try {
    const info: Dockerode.NetworkInspectInfo = await docker(host).getNetwork(name).inspect();
    // The engine also matches ID prefixes; only an exact name counts as "exists".
    return info.Name === name ? info : undefined;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw dockerFailure(`inspecting network ${name}`, err);
  }
}

export async function ensureVolume(
  name: string,
  labels: Labels,
  host?: string,
  driver?: { name?: string; options?: Record<string, string> },
): Promise<{ name: string }> {
  try {
    await docker(host).getVolume(name).inspect();
    return { name };
  } catch (err) {
    if (statusOf(err) !== 404) throw dockerFailure(`inspecting volume ${name}`, err);
  }
  try {
    // The engine returns the existing volume if a concurrent create won the race.
    await docker(host).createVolume({
      Name: name,
      Labels: labels,
      ...(driver?.name ? { Driver: driver.name } : {}),
      ...(driver?.options ? { DriverOpts: driver.options } : {}),
    });
    return { name };
  } catch (err) {
    throw dockerFailure(`creating volume ${name}`, err);
  }
}

export async function removeVolume(name: string, host?: string): Promise<void> {
  try {
    await docker(host).getVolume(name).remove();
  } catch (err) {
    if (statusOf(err) === 404) return;
    throw dockerFailure(`removing volume ${name}`, err);
  }
}

/** The image's ID (`sha256:…`), or undefined if no local image matches `ref`. */
export async function imageId(ref: string, host?: string): Promise<string | undefined> {
  try {
    return (await docker(host).getImage(ref).inspect()).Id;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw dockerFailure(`inspecting image ${ref}`, err);
  }
}

/**
 * Removes the image (or just this tag of it). Gone already is fine; still in use by an envctl
 * container is an error; in use only by containers envctl did not make, it is left.
 */
export async function removeImage(ref: string, host?: string): Promise<void> {
  try {
    await docker(host).getImage(ref).remove();
  } catch (err) {
    if (statusOf(err) === 404) return;
    // In use by a container envctl did not make (someone ran the built image): it stays, with
    // its tag, as removeLabelled leaves such images. Still used by one of envctl's own: an error.
    if (statusOf(err) === 409 && (await onlyForeignUsers(ref, host))) return;
    throw dockerFailure(`removing image ${ref}`, err);
  }
}

/**
 * Whether the containers that use image `ref` are all ones envctl did not make (and any are):
 * told by name (madeByEnvctl), since such a container inherits the image's envctl labels.
 */
async function onlyForeignUsers(ref: string, host?: string): Promise<boolean> {
  try {
    const users = await docker(host).listContainers({
      all: true,
      filters: { ancestor: [ref] },
    });
    return users.length > 0 && users.every((c) => !madeByEnvctl(c.Names));
  } catch {
    return false;
  }
}

/**
 * Removes every container, network, volume and image labelled key=value: what an operation
 * that died left outside state, and images a rebuild left untagged. A container envctl did not
 * make (run by hand from an env's image, so labelled like it) and an image still used by
 * someone else's container stay. Returns how many objects were removed.
 */
export async function removeLabelled(key: string, value: string, host?: string): Promise<number> {
  const filters = { label: [`${key}=${value}`] };
  const client = docker(host);
  let removed = 0;
  const each = async <T>(
    what: string,
    list: () => Promise<T[]>,
    id: (item: T) => string,
    remove: (id: string) => Promise<unknown>,
  ): Promise<void> => {
    let items: T[];
    try {
      items = await list();
    } catch (err) {
      throw dockerFailure(`listing ${what}s labelled ${key}=${value}`, err);
    }
    for (const item of items) {
      try {
        await remove(id(item));
        removed += 1;
      } catch (err) {
        if (statusOf(err) === 404) continue; // gone meanwhile, or with its parent image
        if (what === "image" && statusOf(err) === 409) continue; // in use elsewhere
        throw dockerFailure(`removing ${what} ${id(item).slice(0, 19)}`, err);
      }
    }
  };
  await each(
    "container",
    async () =>
      (await client.listContainers({ all: true, filters })).filter(
        (c) => key !== LABEL_ENV || madeByEnvctl(c.Names),
      ),
    (c) => c.Id,
    (id) => client.getContainer(id).remove({ force: true, v: true }),
  );
  await each(
    "network",
    () => client.listNetworks({ filters }),
    (n) => n.Id,
    (id) => client.getNetwork(id).remove(),
  );
  await each(
    "volume",
    async () => (await client.listVolumes({ filters })).Volumes ?? [],
    (v) => v.Name,
    (name) => client.getVolume(name).remove(),
  );
  await each(
    "image",
    () => client.listImages({ all: true, filters }),
    (i) => i.Id,
    (id) => client.getImage(id).remove(),
  );
  return removed;
}

/** Pulls `ref` from its registry, following the progress stream to the end. */
export async function pullImage(ref: string, host?: string): Promise<void> {
  try {
    const stream = await docker(host).pull(ref);
    await followJsonStream(stream, (event) => {
      if (event.error) throw new Error(event.errorDetail?.message ?? event.error);
    });
  } catch (err) {
    throw dockerFailure(`pulling image ${ref}`, err);
  }
}

/** For leak checks: names of everything carrying label key=value. */
export async function listByLabel(
  key: string,
  value: string,
  host?: string,
): Promise<{ containers: string[]; volumes: string[]; networks: string[] }> {
  const filters = { label: [`${key}=${value}`] };
  try {
    const [containers, volumes, networks] = await Promise.all([
      docker(host).listContainers({ all: true, filters }),
      docker(host).listVolumes({ filters }),
      docker(host).listNetworks({ filters }),
    ]);
    return {
      containers: containers.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, "")),
      volumes: (volumes.Volumes ?? []).map((v) => v.Name),
      networks: networks.map((n) => n.Name),
    };
  } catch (err) {
    throw dockerFailure(`listing objects labelled ${key}=${value}`, err);
  }
}

/** The last `tail` lines of the container's stdout and stderr, interleaved as written. */
export async function containerLogs(name: string, tail: number, host?: string): Promise<string> {
  const container = docker(host).getContainer(name);
  try {
    const info = await container.inspect();
    const raw = await container.logs({
      stdout: true,
      stderr: true,
      tail,
      follow: false,
    });
    return info.Config.Tty ? raw.toString("utf8") : demuxLogs(raw);
  } catch (err) {
    throw dockerFailure(`reading logs of container ${name}`, err);
  }
}

/**
 * Joins a non-TTY log buffer's frames (8-byte header: stream type, 3 zero bytes, big-endian
 * payload size). Anything that doesn't parse as frames is returned as plain text.
 */
export function demuxLogs(buf: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const type = buf[offset];
    const framed =
      offset + 8 <= buf.length &&
      type !== undefined &&
      type <= 2 &&
      buf[offset + 1] === 0 &&
      buf[offset + 2] === 0 &&
      buf[offset + 3] === 0;
    if (!framed) return offset === 0 ? buf.toString("utf8") : Buffer.concat(parts).toString("utf8");
    const size = buf.readUInt32BE(offset + 4);
    parts.push(buf.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}
