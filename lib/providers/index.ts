/**
 * Resource handlers behind envctl's dynamic-provider resources. The serialized provider in each
 * resource's state only holds a tiny trampoline that requires this module at run time, so
 * changing these handlers never shows up as a spurious diff.
 */
import { changedKeys } from "../core/canonical";
import * as docker from "../docker";
import { contextHash } from "../docker/context-hash";
import { fileHandler, initHandler, processHandler } from "./process";
import { createWorktree, deleteWorktree, worktreeExists, type WorktreeOutputs } from "./worktree";

type Props = Record<string, unknown>;

export interface CreateResult {
  id: string;
  outs: Props;
}
export interface DiffResult {
  changes: boolean;
  replaces?: string[];
  deleteBeforeReplace?: boolean;
}
export interface Handler {
  create(inputs: Props): Promise<CreateResult>;
  diff(id: string, olds: Props, news: Props): Promise<DiffResult>;
  update?(id: string, olds: Props, news: Props): Promise<{ outs: Props }>;
  delete(id: string, props: Props): Promise<void>;
  read?(id: string, props: Props): Promise<{ id: string; props: Props } | undefined>;
}

function replaceOnAnyChange(keys: string[]): Handler["diff"] {
  return (_id, olds, news) => {
    const replaces = changedKeys(olds, news, keys);
    return Promise.resolve({ changes: replaces.length > 0, replaces, deleteBeforeReplace: true });
  };
}

const worktreeKeys = ["repo", "dir", "branch", "base"];
const worktree: Handler = {
  async create(inputs) {
    const outs = await createWorktree(inputs as unknown as WorktreeOutputs);
    return { id: outs.dir, outs: outs as unknown as Props };
  },
  diff: replaceOnAnyChange(worktreeKeys),
  delete: (_id, props) => deleteWorktree(props as unknown as WorktreeOutputs),
  async read(id, props) {
    return (await worktreeExists(props as unknown as WorktreeOutputs)) ? { id, props } : undefined;
  },
};

const network: Handler = {
  async create(inputs) {
    const res = await docker.ensureNetwork(inputs.name as string, inputs.labels as docker.Labels);
    return { id: res.id, outs: { ...inputs, networkId: res.id } };
  },
  diff: replaceOnAnyChange(["name", "labels"]),
  delete: (_id, props) => docker.removeNetwork(props.name as string),
};

const volume: Handler = {
  async create(inputs) {
    await docker.ensureVolume(inputs.name as string, inputs.labels as docker.Labels);
    return { id: inputs.name as string, outs: inputs };
  },
  diff: replaceOnAnyChange(["name", "labels"]),
  delete: (_id, props) => docker.removeVolume(props.name as string),
};

const imageKeys = ["context", "dockerfile", "args", "tag", "contextHash", "labels"];
async function build(inputs: Props): Promise<Props> {
  const res = await docker.buildImage({
    context: inputs.context as string,
    dockerfile: inputs.dockerfile as string,
    args: inputs.args as Record<string, string>,
    tag: inputs.tag as string,
    labels: inputs.labels as docker.Labels,
  });
  // The hash the program saw may predate files the build just read; record what was built.
  return { ...inputs, contextHash: contextHash(inputs.context as string), imageId: res.imageId };
}
const image: Handler = {
  async create(inputs) {
    const outs = await build(inputs);
    return { id: inputs.tag as string, outs };
  },
  diff(_id, olds, news) {
    const changed = changedKeys(olds, news, imageKeys);
    return Promise.resolve({
      changes: changed.length > 0,
      replaces: changed.includes("tag") ? ["tag"] : [],
    });
  },
  async update(_id, _olds, news) {
    return { outs: await build(news) };
  },
  delete: (_id, props) => docker.removeImage(props.tag as string),
};

const containerKeys = [
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
  "health",
  "ulimits",
];
const container: Handler = {
  async create(inputs) {
    const spec = inputs as unknown as docker.ContainerSpec;
    try {
      const res = await docker.runContainer(spec);
      return { id: res.id, outs: { ...inputs, containerId: res.id } };
    } catch (err) {
      // A container that never became healthy is not recorded in state: remove it so nothing leaks.
      await docker.removeContainer(spec.name).catch(() => undefined);
      throw err;
    }
  },
  async diff(_id, olds, news) {
    const replaces = changedKeys(olds, news, containerKeys);
    // A container removed or stopped behind envctl's back is recreated by the next up.
    if (replaces.length === 0) {
      const info = await docker.inspectContainer(olds.name as string);
      if (!info || !info.running) replaces.push("containerId");
    }
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
  },
  delete: (_id, props) => docker.removeContainer(props.name as string),
  async read(id, props) {
    const info = await docker.inspectContainer(props.name as string);
    return info ? { id, props } : undefined;
  },
};

export const handlers: Record<string, Handler> = {
  worktree,
  network,
  volume,
  image,
  container,
  process: processHandler,
  file: fileHandler,
  init: initHandler,
};
