/**
 * The one path every env-changing command takes: write the resolved env into stack config, run
 * `up` on the env's stack, and record the outcome (desired state, outputs) in the catalog.
 */
import { ensureConfig, stackConfig, type Engine } from "../../lib/engine/automation";
import type { Stack } from "@pulumi/pulumi/automation";
import type { Catalog } from "../../lib/catalog/catalog";
import { engineFailure } from "../../lib/engine/errors";
import { ensureSecrets } from "../../lib/engine/secrets";
import { Progress } from "../../lib/engine/progress";
import type { EnvState, ResolvedEnv } from "../../lib/spec/model";
import { readStack } from "../../lib/engine/state";
import { PulumiFailure } from "../../lib/engine/errors";
import { runDestroy, runUp, type UpdateResult } from "../../lib/engine/update";
import { localSocket, removeContainerNow } from "../../lib/docker/socket";
import {
  earlyRemovals,
  leavingResources,
  withState,
  type EarlyRemoval,
} from "../../lib/kinds/devenv/lifecycle";
import { trimLogs } from "../../lib/kinds/devenv/reality";
import { vmAddress, vmHost, withEngine } from "../../lib/kinds/hivesync/target";
import type { seams } from "../context";
import { servicesTable } from "../ui/output";

export interface ApplyResult {
  outputs: Record<string, unknown>;
  changes: Record<string, number>;
  operations: unknown[];
  durationSeconds: number;
}

interface ApplyArgs {
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
  /** The values of the stack's secret config (kinds that keep secrets, lib/kinds `secrets`). */
  secrets?: Record<string, string>;
}

export async function applyEnv(args: ApplyArgs): Promise<ApplyResult> {
  const { env, engine } = args;
  await ensureConfig(engine, args.stack, stackConfig(env));
  if (args.secrets) await ensureSecrets(engine, env.name, args.secrets);
  trimLogs(env);
  return record(args, (progress) =>
    runUp(engine, env.name, { onEvent: progress.onEvent, signal: args.s.signal }),
  );
}

/**
 * A transition that only removes services (cool, stop), as a targeted `pulumi destroy` of
 * what the program would stop registering (lib/kinds/devenv/lifecycle.ts leavingResources):
 * no language host, no program. The stack ends as `applyEnv` would leave it; the outputs are
 * the checkpoint's, which do not depend on the state. While the engine starts, the CLI removes
 * the leaving containers it can itself, in reverse dependency order (earlyRemovals); the
 * destroy then finds them gone and records it. Falls back to `applyEnv` when the stack
 * holds unfinished operations or secret outputs, or when the engine refuses the targets.
 */
export async function applyRemoval(args: ApplyArgs & { from: EnvState }): Promise<ApplyResult> {
  const { env, engine, s } = args;
  const state = await readStack(engine, env.name);
  const targets = leavingResources(env.name, env.services, args.from, env.state, state.resources);
  const outputs = (state.outputs.env ?? {}) as Record<string, unknown>;
  if (!targets || state.pendingOperations > 0 || JSON.stringify(outputs).includes(SECRET_SIG)) {
    return applyEnv(args);
  }
  await ensureConfig(engine, args.stack, stackConfig(env));
  trimLogs(env);
  return record(
    args,
    async (progress): Promise<UpdateResult> => {
      if (targets.length === 0)
        return { outputs: { env: outputs }, changes: {}, durationSeconds: 0 };
      const socket = localSocket();
      const early = socket
        ? removeInWaves(socket, earlyRemovals(targets, state.resources), s.signal)
        : null;
      try {
        const res = await runDestroy(engine, env.name, targets, {
          onEvent: progress.onEvent,
          signal: s.signal,
        });
        return { ...res, outputs: { env: outputs } };
      } finally {
        await early;
      }
    },
    () => applyEnv(args),
  );
}

/**
 * Removes each wave's containers at once, wave after wave. A failure is left to the destroy
 * running alongside, which removes what is left and reports it in its own words.
 */
async function removeInWaves(
  socket: string,
  waves: EarlyRemoval[][],
  signal?: AbortSignal,
): Promise<void> {
  for (const wave of waves) {
    if (signal?.aborted) return; // Ctrl-C: what is left stays for the next cool
    const done = await Promise.allSettled(
      wave.map((c) => removeContainerNow(socket, c.name, c.stop)),
    );
    if (done.some((d) => d.status === "rejected")) return;
  }
}

/** Pulumi's marker of a secret value in a checkpoint. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/**
 * Runs `update` and records its outcome in the catalog (desired state, outputs, status). With
 * `fallback`, an update the engine refused before it changed anything runs that instead.
 */
async function record(
  args: ApplyArgs,
  update: (progress: Progress) => Promise<UpdateResult>,
  fallback?: () => Promise<ApplyResult>,
): Promise<ApplyResult> {
  const { s, catalog, env, verb } = args;
  const progress = new Progress(args.json ? undefined : s.log, false);
  let result;
  try {
    result = await update(progress);
  } catch (err) {
    if (
      fallback &&
      err instanceof PulumiFailure &&
      progress.ops.length === 0 &&
      !s.signal?.aborted
    ) {
      return fallback();
    }
    catalog.setStatus(env.name, "failed");
    // What runs now is a mix of the old and the new state: record the new one as desired so
    // list shows the difference, and the same verb again finishes the job.
    catalog.setDesired(env.name, withEngine(env, undefined, catalog.getEnv(env.name)?.resolved));
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
  const outputs = withState((result.outputs.env ?? {}) as Record<string, unknown>, env);
  const before = catalog.getEnv(env.name)?.resolved;
  catalog.setOutputs(env.name, outputs);
  catalog.setDesired(env.name, withEngine(env, outputs, before));
  syncVmHost(catalog, env, outputs, before, s.log);
  catalog.setStatus(env.name, "ready");
  return {
    outputs,
    changes: result.changes,
    operations: progress.ops,
    durationSeconds: result.durationSeconds,
  };
}

/**
 * A VM the stack made is a host of the catalog while the env has it: registered (or moved to
 * its new address) after an update, removed once the env runs elsewhere. A host of that id
 * that is not the env's VM (added by hand) is left as it is.
 */
export function syncVmHost(
  catalog: Catalog,
  env: ResolvedEnv,
  outputs: Record<string, unknown>,
  before: ResolvedEnv | null | undefined,
  log: (line: string) => void,
): void {
  const vm = vmHost(env, outputs);
  const was = before?.hivesync?.target === "linode" ? before.hostId : undefined;
  const id = vm?.id ?? was;
  if (!id) return;
  const known = catalog.hosts.get(id);
  const ours = !known || known.sshHost === vmAddress(before) || known.sshHost === vm?.host;
  if (!ours) {
    log(`warning: host ${id} of the catalog is not this env's VM; it is left as it is`);
    return;
  }
  if (vm) {
    if (known) catalog.hosts.update({ ...known, ...vm });
    else catalog.hosts.add(vm);
  } else if (known && catalog.envsOnHost(id).length === 0) {
    catalog.hosts.remove(id);
  }
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
