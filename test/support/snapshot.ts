/**
 * Before/after pictures of everything a command could create or change: a directory tree file
 * by file, a git repo's worktrees and refs, and the Docker objects carrying envctl's labels.
 * Comparing two pictures tells a test exactly what a failed command left behind.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { docker } from "../../lib/docker/client";
import { LABEL_ENV } from "../../lib/core/names";
import { git } from "./env";

/** Relative path -> what is there: `file 0644 12 <sha1>`, `dir 0755`, `link -> target`, `fifo`. */
export type Tree = Map<string, string>;

/** Every entry under `root`, symlinks read but never followed (a loop must not hang the walk). */
export function fileTree(root: string): Tree {
  const out: Tree = new Map();
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const full = path.join(root, r);
      const st = fs.lstatSync(full);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
      if (st.isSymbolicLink()) out.set(r, `link -> ${fs.readlinkSync(full)}`);
      else if (st.isDirectory()) {
        out.set(r, `dir ${mode}`);
        walk(r);
      } else if (st.isFile()) {
        const sha = createHash("sha1").update(fs.readFileSync(full)).digest("hex");
        out.set(r, `file ${mode} ${st.size} ${sha}`);
      } else out.set(r, st.isFIFO() ? `fifo ${mode}` : `special ${mode}`);
    }
  };
  if (fs.existsSync(root)) {
    out.set(".", `dir ${(fs.statSync(root).mode & 0o7777).toString(8)}`);
    walk("");
  }
  return out;
}

/** What git itself reports: worktrees, and every ref (branches, tags, remotes, the stash). */
export function gitState(repo: string): string {
  return [
    git(repo, "worktree", "list", "--porcelain"),
    git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
  ].join("\n");
}

/** One Docker object: its kind, name and the env its envctl label names. */
export interface DockerObject {
  kind: "container" | "volume" | "network" | "image";
  name: string;
  env: string;
}

/** Every container, volume, network and image labelled with an env, asked of the local engine. */
export async function dockerObjects(): Promise<DockerObject[]> {
  const d = docker(undefined);
  const filters = { label: [LABEL_ENV] };
  const [containers, volumes, networks, images] = await Promise.all([
    d.listContainers({ all: true, filters }),
    d.listVolumes({ filters }),
    d.listNetworks({ filters }),
    d.listImages({ filters }),
  ]);
  const env = (labels: Record<string, string> | undefined | null): string =>
    labels?.[LABEL_ENV] ?? "";
  return [
    ...containers.map((c) => ({
      kind: "container" as const,
      name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
      env: env(c.Labels),
    })),
    ...(volumes.Volumes ?? []).map((v) => ({
      kind: "volume" as const,
      name: v.Name,
      env: env(v.Labels),
    })),
    ...networks.map((n) => ({ kind: "network" as const, name: n.Name, env: env(n.Labels) })),
    ...images.map((i) => ({
      kind: "image" as const,
      name: i.RepoTags?.[0] ?? i.Id,
      env: env(i.Labels),
    })),
  ];
}

/** Entries added, removed or changed between two trees, one line each (empty when equal). */
export function treeDiff(before: Tree, after: Tree): string[] {
  const out: string[] = [];
  for (const [p, v] of after) {
    const was = before.get(p);
    if (was === undefined) out.push(`+ ${p} (${v})`);
    else if (was !== v) out.push(`~ ${p} (${was} -> ${v})`);
  }
  for (const p of before.keys()) if (!after.has(p)) out.push(`- ${p}`);
  return out;
}

/**
 * Objects present after but not before that belong to one of `envs`. Other envs' objects are
 * left out: other test files may be creating theirs on the same engine at the same time.
 */
export function newDockerObjects(
  before: DockerObject[],
  after: DockerObject[],
  envs: readonly string[],
): DockerObject[] {
  const key = (o: DockerObject): string => `${o.kind} ${o.name}`;
  const had = new Set(before.map(key));
  return after.filter((o) => !had.has(key(o)) && envs.includes(o.env));
}
