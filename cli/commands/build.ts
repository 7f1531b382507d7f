/**
 * `envctl build [-f dev/envctl.yaml]`: the copilot kind's images (the document's
 * `copilot dev build`), built on the local engine with the build's own output streamed to
 * stderr. A missing temporal-dsql checkout, an unreachable engine or a failing step is exit 1
 * with the reason (for a failing step, the step and its last output lines).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { badInput, UserError } from "../../lib/core/errors";
import { buildPlan } from "../../lib/kinds/copilot/build";
import { importCompose } from "../../lib/spec/compose";
import { copilotComposeEnv } from "../../lib/spec/copilot";
import { SpecError } from "../../lib/spec/sources";
import { checkoutRoot } from "../../lib/spec/worktree-paths";
import { seams, type CommandSeams } from "../context";
import { jsonDoc } from "../ui/output";

export interface BuildOptions extends CommandSeams {
  /** The copilot spec (`-f`); default `dev/envctl.yaml` under the cwd's checkout. */
  file?: string[];
  json?: boolean;
}

/**
 * The tags the spec's compose file runs the two images under, as Compose reads it (.env's
 * TEMPORAL_RUNTIME_IMAGE and COPILOT_IMAGE included), so `up` finds what build made.
 */
function composeTags(file: string, doc: SpecDoc): { runtime?: string; copilot?: string } {
  const files = [doc.compose ?? "docker-compose.yml"].flat().map(String);
  const res = importCompose(
    files.map((f) => path.resolve(path.dirname(file), f)),
    { env: copilotComposeEnv(doc.copilot as Record<string, unknown> | undefined) },
  );
  if (res.errors.length > 0) throw new SpecError(file, res.errors);
  const image = (svc: string): string | undefined => {
    const v = res.services[svc]?.image;
    return typeof v === "string" ? v : undefined;
  };
  return { runtime: image("temporal-history"), copilot: image("copilot-api") };
}

/** What build reads of the spec: its kind, compose files and copilot block. */
interface SpecDoc {
  kind?: unknown;
  compose?: unknown;
  copilot?: unknown;
}

/** The copilot spec to build for, from `-f` or the default place, read once. */
function specFile(files: string[] | undefined, cwd: string): { file: string; doc: SpecDoc } {
  if (files && files.length > 1) throw badInput("build takes one spec file (-f dev/envctl.yaml)");
  const given = files?.[0];
  const file = given
    ? path.resolve(cwd, given)
    : path.join(checkoutRoot(cwd) ?? cwd, "dev", "envctl.yaml");
  if (!fs.existsSync(file)) {
    throw badInput(
      given
        ? `cannot read spec ${file}: no such file`
        : `no copilot spec at ${file}: copy envctl's presets/copilot to dev/ there, or pass -f`,
    );
  }
  let doc: SpecDoc | null;
  try {
    doc = parse(fs.readFileSync(file, "utf8")) as SpecDoc | null;
  } catch (err) {
    throw badInput(`invalid spec ${file}: ${(err as Error).message.split("\n")[0]}`);
  }
  const kind = doc?.kind;
  if (kind !== "copilot") {
    throw badInput(
      `invalid spec ${file}: kind: build makes the copilot kind's images, and this spec is ${kind === undefined ? "a devenv" : JSON.stringify(kind)} (a devenv's images are built by up)`,
    );
  }
  return { file, doc: doc! };
}

export async function build(opts: BuildOptions): Promise<void> {
  const s = seams(opts);
  const { file, doc } = specFile(opts.file, s.cwd);
  const devDir = path.dirname(file);
  const repoRoot = checkoutRoot(devDir) ?? path.dirname(devDir);
  const plan = buildPlan(repoRoot, devDir, process.env, composeTags(file, doc));
  const { buildImage } = await import("../../lib/docker/build");
  const { DockerError } = await import("../../lib/docker/client");
  const built: { tag: string; imageId: string }[] = [];
  for (const step of plan) {
    if (!opts.json) s.log(`building ${step.tag}: ${step.what}, from ${step.context}`);
    try {
      const res = await buildImage({
        context: step.context,
        dockerfile: step.dockerfile,
        args: {},
        tag: step.tag,
        labels: {},
        ...(opts.json ? {} : { onLog: (line: string) => s.log(`  ${line}`) }),
      });
      built.push({ tag: step.tag, imageId: res.imageId });
    } catch (err) {
      if (err instanceof DockerError) {
        throw new UserError(err.message, 1, [
          built.length
            ? `built before it: ${built.map((b) => b.tag).join(", ")}`
            : "nothing was built",
        ]);
      }
      throw err;
    }
  }
  if (opts.json) s.out(jsonDoc("build", { images: built }));
  else s.log(`built ${built.map((b) => b.tag).join(", ")}`);
}
