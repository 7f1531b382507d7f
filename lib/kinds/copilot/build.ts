/**
 * `envctl build`: the copilot kind's two images, as the document's `copilot dev build` makes
 * them. The Temporal server comes from the temporal-dsql repository (TEMPORAL_DSQL_PATH,
 * default `../temporal-dsql` next to the repo): its image is the base of the runtime image
 * (`docker/Dockerfile` of the preset), and the copilot image is the repo root's Dockerfile.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../../core/errors";

export interface ImageBuild {
  /** What the image is, for progress lines. */
  what: string;
  tag: string;
  /** Absolute path of the build context. */
  context: string;
  /** Dockerfile relative to the context. */
  dockerfile: string;
}

/** The tags the compose file runs (TEMPORAL_RUNTIME_IMAGE / COPILOT_IMAGE default to them). */
export const IMAGES = {
  base: "temporal-dsql:latest",
  runtime: "temporal-dsql-runtime:test",
  copilot: "temporal-sre-copilot:dev",
} as const;

/** Where the temporal-dsql checkout is: TEMPORAL_DSQL_PATH, else `../temporal-dsql`. */
export function temporalDsqlPath(repoRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = env.TEMPORAL_DSQL_PATH;
  return given ? path.resolve(repoRoot, given) : path.resolve(repoRoot, "..", "temporal-dsql");
}

/**
 * The builds in order (each later one may start FROM an earlier one). A missing checkout or
 * Dockerfile is exit 1 naming the expected path and how to point envctl at it.
 */
export function buildPlan(
  repoRoot: string,
  devDir: string,
  env: NodeJS.ProcessEnv = process.env,
  /** The tags the compose file runs (TEMPORAL_RUNTIME_IMAGE, COPILOT_IMAGE may rename them). */
  tags: { runtime?: string; copilot?: string } = {},
): ImageBuild[] {
  const dsql = temporalDsqlPath(repoRoot, env);
  const hint = env.TEMPORAL_DSQL_PATH
    ? "TEMPORAL_DSQL_PATH names it: point it at your temporal-dsql checkout"
    : "clone temporal-dsql there, or set TEMPORAL_DSQL_PATH to its checkout";
  if (!fs.existsSync(dsql)) {
    throw new UserError(`temporal-dsql repository not found at ${dsql}`, 1, [hint]);
  }
  const need = (dir: string, what: string): void => {
    if (!fs.existsSync(path.join(dir, "Dockerfile"))) {
      throw new UserError(`${what}: no Dockerfile at ${path.join(dir, "Dockerfile")}`, 1);
    }
  };
  need(dsql, "temporal-dsql repository");
  need(path.join(devDir, "docker"), "the runtime image");
  need(repoRoot, "the copilot image (the repo root)");
  return [
    {
      what: "Temporal server (temporal-dsql)",
      tag: IMAGES.base,
      context: dsql,
      dockerfile: "Dockerfile",
    },
    {
      what: "Temporal runtime (render-and-start)",
      tag: tags.runtime ?? IMAGES.runtime,
      context: path.join(devDir, "docker"),
      dockerfile: "Dockerfile",
    },
    {
      what: "copilot",
      tag: tags.copilot ?? IMAGES.copilot,
      context: repoRoot,
      dockerfile: "Dockerfile",
    },
  ];
}
