/** Image builds: pack the context (honouring .dockerignore), stream the build, report failures. */
import * as fs from "node:fs";
import * as path from "node:path";
import dockerignore from "@balena/dockerignore";
import { DockerError, docker, dockerFailure, followJsonStream, type Labels } from "./client";
import { imageId } from "./objects";

// tar-fs is what dockerode itself packs contexts with (declared here too); it has no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tarFs = require("tar-fs") as {
  pack(
    cwd: string,
    opts: {
      ignore?: (name: string) => boolean;
      finalize?: boolean;
      finish?: (pack: {
        entry(header: { name: string; mode?: number }, body: string): void;
        finalize(): void;
      }) => void;
    },
  ): NodeJS.ReadableStream;
};

/** Where a Dockerfile given by content (or rewritten for named contexts) goes in the context. */
const INLINE_DOCKERFILE = ".envctl.Dockerfile";

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
  /** Multi-stage target. */
  target?: string;
  /** Dockerfile contents (compose dockerfile_inline); `dockerfile` is then not read. */
  dockerfileInline?: string;
  /**
   * Named contexts: `docker-image://REF`, or an image reference, or a directory (absolute). The
   * classic builder has no named contexts, so `FROM NAME` and `COPY --from=NAME` are rewritten to
   * the image, a directory first becoming an image of its files (tagged `<tag>-ctx-NAME`).
   */
  additionalContexts?: Record<string, string>;
  /** A second tag (compose `image` next to `build`). */
  extraTag?: string;
  platform?: string;
}

/** The images made for directory contexts of a build of `tag` (removed with it). */
export function contextImageTag(tag: string, name: string): string {
  const [repo = tag, version = "latest"] = tag.split(/:(?=[^/:]+$)/);
  return `${repo}-ctx-${name.toLowerCase().replace(/[^a-z0-9_.-]/g, "-")}:${version}`;
}

/** `FROM NAME` and `--from=NAME` (whole words, any case for FROM) pointed at `images[NAME]`. */
export function rewriteNamedContexts(dockerfile: string, images: Record<string, string>): string {
  return dockerfile
    .split("\n")
    .map((line) => {
      let out = line.replace(
        /^(\s*FROM\s+(?:--platform=\S+\s+)?)(\S+)/i,
        (m, head: string, ref: string) => (images[ref] ? `${head}${images[ref]}` : m),
      );
      out = out.replace(/--from=(\S+)/g, (m, ref: string) =>
        images[ref] ? `--from=${images[ref]}` : m,
      );
      return out;
    })
    .join("\n");
}

/** How much of a failing step's output goes into the error message. */
const FAILED_STEP_LINES = 20;

/**
 * Builds `tag` from `context` with the engine's classic builder. On failure throws a
 * DockerError naming the failing step ("Step 3/4 : RUN make") with that step's output.
 */
export async function buildImage(
  opts: BuildOptions,
): Promise<{ imageId: string; contextImages: string[] }> {
  let dockerfile = path.posix.normalize(opts.dockerfile.split(path.sep).join("/"));
  let inline = opts.dockerfileInline;
  if (inline === undefined) await checkContext(opts.context, dockerfile);
  else await checkContext(opts.context, undefined);
  const contextImages: string[] = [];
  if (opts.additionalContexts && Object.keys(opts.additionalContexts).length > 0) {
    const images: Record<string, string> = {};
    for (const [name, value] of Object.entries(opts.additionalContexts)) {
      if (value.startsWith("docker-image://")) images[name] = value.slice("docker-image://".length);
      else if (path.isAbsolute(value)) {
        const tag = contextImageTag(opts.tag, name);
        await buildImage({
          context: value,
          dockerfile: INLINE_DOCKERFILE,
          dockerfileInline: "FROM scratch\nCOPY . /\n",
          args: {},
          tag,
          labels: opts.labels,
          ...(opts.dockerHost ? { dockerHost: opts.dockerHost } : {}),
        });
        contextImages.push(tag);
        images[name] = tag;
      } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
        throw new DockerError(
          `building image ${opts.tag}: context ${name} (${value}) is not a directory or an image`,
        );
      } else images[name] = value;
    }
    const text =
      inline ?? (await fs.promises.readFile(path.join(opts.context, dockerfile), "utf8"));
    inline = rewriteNamedContexts(text, images);
  }
  if (inline !== undefined) dockerfile = INLINE_DOCKERFILE;
  const what = `building image ${opts.tag}`;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker(opts.dockerHost).buildImage(
      await packContext(opts.context, dockerfile, inline),
      {
        t: opts.extraTag ? [opts.tag, opts.extraTag] : opts.tag,
        dockerfile,
        buildargs: opts.args,
        labels: opts.labels,
        rm: true,
        forcerm: true, // no intermediate containers left behind by failed steps
        ...(opts.target ? { target: opts.target } : {}),
        ...(opts.platform ? { platform: opts.platform } : {}),
      } as Parameters<ReturnType<typeof docker>["buildImage"]>[1],
    );
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
  return { imageId: id, contextImages };
}

async function checkContext(context: string, dockerfile: string | undefined): Promise<void> {
  const stat = await fs.promises.stat(context).catch(() => undefined);
  if (!stat?.isDirectory()) {
    throw new DockerError(`building image: context ${context} is not a directory`);
  }
  if (dockerfile === undefined) return;
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
async function packContext(
  context: string,
  dockerfile: string,
  inline?: string,
): Promise<NodeJS.ReadableStream> {
  const extra =
    inline === undefined
      ? {}
      : {
          finalize: false,
          finish: (pack: {
            entry(h: { name: string; mode?: number }, body: string): void;
            finalize(): void;
          }) => {
            pack.entry({ name: INLINE_DOCKERFILE, mode: 0o644 }, inline);
            pack.finalize();
          },
        };
  const patterns = await fs.promises
    .readFile(path.join(context, ".dockerignore"), "utf8")
    .catch(() => undefined);
  if (patterns === undefined)
    return tarFs.pack(context, {
      ...extra,
      ignore: (abs) => inline !== undefined && path.basename(abs) === INLINE_DOCKERFILE,
    });
  const rules = dockerignore({ ignorecase: false }).add(patterns);
  const hasNegation = patterns.split("\n").some((l) => l.trim().startsWith("!"));
  const keep = new Set([dockerfile, ".dockerignore"]);
  return tarFs.pack(context, {
    ...extra,
    ignore: (abs) => {
      if (inline !== undefined && path.relative(context, abs) === INLINE_DOCKERFILE) return true;
      const rel = path.relative(context, abs).split(path.sep).join("/");
      if (keep.has(rel) || !rules.ignores(rel)) return false;
      return !(hasNegation && fs.statSync(abs).isDirectory());
    },
  });
}
