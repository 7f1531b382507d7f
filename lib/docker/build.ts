/** Image builds: pack the context (honouring .dockerignore), stream the build, report failures. */
import * as fs from "node:fs";
import * as path from "node:path";
import dockerignore from "@balena/dockerignore";
import { DockerError, docker, dockerFailure, followJsonStream, type Labels } from "./client";
import { imageId } from "./objects";

// tar-fs is what dockerode itself packs contexts with (declared here too); it has no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tarFs = require("tar-fs") as {
  pack(cwd: string, opts: { ignore?: (name: string) => boolean }): NodeJS.ReadableStream;
};

export interface BuildOptions {
  /** Absolute path of the build context directory. */
  context: string;
  /** Dockerfile path relative to the context. */
  dockerfile: string;
  args: Record<string, string>;
  /** Tag given to the result, e.g. `envctl-demo-web:latest`. */
  tag: string;
  labels: Labels;
  /** Receives the build output line by line. */
  onLog?: (line: string) => void;
  /** The Docker engine that builds (and keeps) the image; the local one when unset. */
  dockerHost?: string;
}

/** How much of a failing step's output goes into the error message. */
const FAILED_STEP_LINES = 20;

/**
 * Builds `tag` from `context` with the engine's classic builder. On failure throws a
 * DockerError naming the failing step ("Step 3/4 : RUN make") with that step's output.
 */
export async function buildImage(opts: BuildOptions): Promise<{ imageId: string }> {
  const dockerfile = path.posix.normalize(opts.dockerfile.split(path.sep).join("/"));
  await checkContext(opts.context, dockerfile);
  const what = `building image ${opts.tag}`;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker(opts.dockerHost).buildImage(await packContext(opts.context, dockerfile), {
      t: opts.tag,
      dockerfile,
      buildargs: opts.args,
      labels: opts.labels,
      rm: true,
      forcerm: true, // no intermediate containers left behind by failed steps
    });
  } catch (err) {
    throw dockerFailure(what, err);
  }

  let step: string | undefined;
  let stepOutput: string[] = [];
  let failure: string | undefined;
  let partial = "";
  const onLine = (line: string): void => {
    opts.onLog?.(line);
    if (/^Step \d+\/\d+ : /.test(line)) {
      step = line;
      stepOutput = [];
    } else if (!/^ ---> |^Removing intermediate container /.test(line)) {
      stepOutput.push(line);
    }
  };
  try {
    await followJsonStream(stream, (event) => {
      if (event.error) failure = event.errorDetail?.message ?? event.error;
      if (!event.stream) return;
      const lines = (partial + event.stream).split("\n");
      partial = lines.pop() ?? "";
      lines.forEach((l) => onLine(l.replace(/\r$/, "")));
    });
  } catch (err) {
    throw dockerFailure(what, err);
  }
  if (partial) onLine(partial);

  if (failure !== undefined) {
    const output = stepOutput.filter((l) => l.trim()).slice(-FAILED_STEP_LINES);
    const m = step ? /^Step (\d+\/\d+) : (.*)$/.exec(step) : null;
    const where = m ? ` at step ${m[1]} (${m[2]})` : "";
    const tail = output.length ? `\n${output.map((l) => `  | ${l}`).join("\n")}` : "";
    throw new DockerError(`${what} failed${where}: ${failure.trim()}${tail}`);
  }
  const id = await imageId(opts.tag);
  if (!id) throw new DockerError(`${what}: the build finished but produced no image`);
  return { imageId: id };
}

async function checkContext(context: string, dockerfile: string): Promise<void> {
  const stat = await fs.promises.stat(context).catch(() => undefined);
  if (!stat?.isDirectory()) {
    throw new DockerError(`building image: context ${context} is not a directory`);
  }
  if (path.posix.isAbsolute(dockerfile) || dockerfile.startsWith("../")) {
    throw new DockerError(`building image: Dockerfile ${dockerfile} must be inside ${context}`);
  }
  if (!fs.existsSync(path.join(context, dockerfile))) {
    throw new DockerError(`building image: no Dockerfile at ${path.join(context, dockerfile)}`);
  }
}

/**
 * Tars the context. Like the docker CLI, the Dockerfile and .dockerignore are always sent,
 * and directories are only pruned whole when no `!` pattern could re-include their contents.
 */
async function packContext(context: string, dockerfile: string): Promise<NodeJS.ReadableStream> {
  const patterns = await fs.promises
    .readFile(path.join(context, ".dockerignore"), "utf8")
    .catch(() => undefined);
  if (patterns === undefined) return tarFs.pack(context, {});
  const rules = dockerignore({ ignorecase: false }).add(patterns);
  const hasNegation = patterns.split("\n").some((l) => l.trim().startsWith("!"));
  const keep = new Set([dockerfile, ".dockerignore"]);
  return tarFs.pack(context, {
    ignore: (abs) => {
      const rel = path.relative(context, abs).split(path.sep).join("/");
      if (keep.has(rel) || !rules.ignores(rel)) return false;
      return !(hasNegation && fs.statSync(abs).isDirectory());
    },
  });
}
