/**
 * The one path every env-changing command takes: write the resolved env into stack config, run
 * `up` on the env's stack, and record the outcome (desired state, outputs) in the catalog.
 */
import { ensureConfig, stackConfig, type Engine } from "../../lib/engine/automation";
import type { Stack } from "@pulumi/pulumi/automation";
import type { Catalog } from "../../lib/catalog/catalog";
import { engineFailure } from "../../lib/engine/errors";
import { Progress } from "../../lib/engine/progress";
import type { ResolvedEnv } from "../../lib/spec/model";
import { runUp } from "../../lib/engine/update";
import { trimLogs } from "../../lib/kinds/devenv/reality";
import type { seams } from "../context";
import { servicesTable } from "../ui/output";

export interface ApplyResult {
  outputs: Record<string, unknown>;
  changes: Record<string, number>;
  operations: unknown[];
  durationSeconds: number;
}

export async function applyEnv(args: {
  s: ReturnType<typeof seams>;
  catalog: Catalog;
  engine: Engine;
  /** The env's stack, or its name when the stack is known to exist (saves a `stack select`). */
  stack: Stack | string;
  env: ResolvedEnv;
  json?: boolean;
  /** What the user asked for, for messages: `up`, `warm`, `spawn`, ... */
  verb: string;
  /** How to recover when the update fails (default: re-run the verb, or destroy). */
  recovery?: string;
}): Promise<ApplyResult> {
  const { s, catalog, engine, stack, env, verb } = args;
  await ensureConfig(engine, stack, stackConfig(env));
  trimLogs(env);
  const progress = new Progress(args.json ? undefined : s.log, false);
  let result;
  try {
    result = await runUp(engine, env.name, { onEvent: progress.onEvent, signal: s.signal });
  } catch (err) {
    catalog.setStatus(env.name, "failed");
    // What runs now is a mix of the old and the new state: record the new one as desired so
    // list shows the difference, and the same verb again finishes the job.
    catalog.setDesired(env.name, env);
    throw engineFailure(err, {
      verb,
      env: env.name,
      diagnostics: progress.diagnostics,
      interrupted: s.signal?.aborted,
      recovery:
        args.recovery ??
        `the env is recoverable: fix the cause and run \`envctl ${verb} ${env.name}\` again, or \`envctl destroy ${env.name}\``,
    });
  }
  const outputs = (result.outputs.env ?? {}) as Record<string, unknown>;
  catalog.setOutputs(env.name, outputs);
  catalog.setDesired(env.name, env);
  catalog.setStatus(env.name, "ready");
  return {
    outputs,
    changes: result.changes,
    operations: progress.ops,
    durationSeconds: result.durationSeconds,
  };
}

/** `env demo is warm (3 created, 12s)` plus the services table. */
export function report(
  s: ReturnType<typeof seams>,
  env: ResolvedEnv,
  res: ApplyResult,
  what: string,
): void {
  const changed = Object.entries(res.changes)
    .filter(([k]) => k !== "same")
    .map(([k, v]) => `${v} ${k}`);
  s.log(
    `env ${env.name} ${what} (${changed.length ? changed.join(", ") : "no changes"}, ${res.durationSeconds}s)`,
  );
  s.out(servicesTable(res.outputs));
}
