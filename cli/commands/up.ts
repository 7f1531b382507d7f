import * as readline from "node:readline/promises";
import { checkCopilotReady } from "../../lib/kinds/copilot/ready";
import { checkHivesyncReady } from "../../lib/kinds/hivesync/ready";
import { openEngine, selectStack, stackExists, type Engine } from "../../lib/engine/automation";
import { UserError } from "../../lib/core/errors";
import { Progress } from "../../lib/engine/progress";
import type { ResolvedEnv } from "../../lib/spec/model";
import { initStack } from "../../lib/engine/update";
import { readStack } from "../../lib/engine/state";
import { deployed, rememberPrevious } from "../../lib/kinds/hivesync/deploys";

const GENERATED_SECRET_TYPE = "pulumi-nodejs:dynamic/envctl:GeneratedSecret";
import { formatIssue } from "../../lib/spec/load";
import { leaseFor, refuseHeldFixedPorts } from "../../lib/catalog/leases";
import { unsafePorts } from "../../lib/spec/ports";
import { checkName, openCatalog, seams, type CommandSeams } from "../context";
import { beginOperation, type Operation, type OperationFlags } from "../operation";
import { checkRepo } from "../../lib/kinds/devenv/env";
import { recordEnv } from "../../lib/catalog/records";
import { loadSpec, specSource, type SpecSource } from "../../lib/spec/sources";
import { checkVerb, kindOf, resolveFor, resolveOptions, SPEC_KIND } from "../../lib/kinds";
import { preflight } from "../../lib/spec/validate";
import { jsonDoc } from "../ui/output";
import { applyEnv, report } from "./apply";
import { previewOn } from "./preview";

export interface UpOptions extends CommandSeams, SpecSource, OperationFlags {
  name: string;
  yes?: boolean;
  json?: boolean;
  /** hivesync: fill `hivesync.generate`'s variables with generated secrets (kept once made). */
  generateSecrets?: boolean;
  /**
   * Asked after the preview of an existing env's changes; nothing is written before it says yes.
   * @default a y/N prompt on stderr, asked only when stdin is a terminal
   */
  confirm?: (question: string) => Promise<boolean>;
}

async function askTerminal(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Previews `env` on its existing stack (the stack's config untouched) and asks to apply it. */
async function confirmed(
  s: ReturnType<typeof seams>,
  engine: Engine,
  env: ResolvedEnv,
  confirm: (question: string) => Promise<boolean>,
  secrets: Record<string, string> | undefined,
): Promise<boolean> {
  const stack = await selectStack(engine, env.name);
  await previewOn(s, engine, stack, env, new Progress(s.log, true), secrets);
  return confirm(`apply these changes to ${env.name}? [y/N] `);
}

/** What an existing stack's checkpoint says about the env that made it. */
async function adoptStack(
  engine: Engine,
  name: string,
): Promise<{ block?: number; resolved: { hivesync: { generated: Record<string, string> } } }> {
  const state = await readStack(engine, name);
  const env = state.outputs.env as { block?: unknown } | undefined;
  const generated: Record<string, string> = {};
  for (const r of state.resources) {
    const v = r.outputs?.name;
    if (r.type === GENERATED_SECRET_TYPE && typeof v === "string") generated[v] = "";
  }
  const block = typeof env?.block === "number" ? env.block : undefined;
  return {
    ...(block !== undefined ? { block } : {}),
    resolved: { hivesync: { generated } },
  };
}

/** Creates or updates one env so that it matches its spec. */
export async function up(opts: UpOptions): Promise<Record<string, unknown>> {
  const s = seams(opts);
  checkName(opts.name);
  const confirm =
    opts.yes || opts.json
      ? undefined
      : (opts.confirm ?? (process.stdin.isTTY ? askTerminal : undefined));
  const { spec, warnings } = loadSpec(specSource(opts), s.cwd);
  checkCopilotReady(spec, "up", s.log);
  checkHivesyncReady(spec, "up", s.log);
  await checkRepo(spec);
  await preflight(spec);

  const catalog = openCatalog(s.home);
  let op: Operation | undefined;
  try {
    const engine = await openEngine(s.home);
    let existed = await stackExists(engine, opts.name);
    const prior = catalog.getEnv(opts.name);
    const def = kindOf(prior?.kind ?? spec.kind ?? SPEC_KIND, `catalog: env ${opts.name}`);
    checkVerb(def, "up", opts.name);
    if (prior && prior.kind !== (spec.kind ?? SPEC_KIND)) {
      throw new UserError(
        `env ${opts.name} is a ${prior.kind} env and the spec makes a ${spec.kind ?? SPEC_KIND} env`,
        2,
        [`an env keeps its kind: \`envctl destroy ${opts.name}\` first, or choose another name`],
      );
    }
    if (!existed && prior?.status === "destroying") {
      throw new UserError(
        `env ${opts.name} is half destroyed: run envctl destroy ${opts.name} first`,
      );
    }
    refuseHeldFixedPorts(catalog, opts.name, spec.services);
    const hadLease = catalog.getLease(opts.name) !== undefined;
    // A stack this home has no record of (a shared backend, a fresh CI runner) is adopted: its
    // port block and generated secrets are read from its checkpoint, so the update changes
    // only what the spec changed.
    const adopted = existed && !prior ? await adoptStack(engine, opts.name) : undefined;
    const block = await leaseFor(catalog, opts.name, spec, adopted?.block);
    for (const w of unsafePorts(spec.services, block)) s.log(`warning: ${formatIssue(w)}`);
    const ropts = {
      ...resolveOptions(spec, prior?.resolved ?? adopted?.resolved, opts.generateSecrets),
      hostById: (id: string) => catalog.hosts.get(id),
    };
    let env: ResolvedEnv;
    let secrets: Record<string, string> | undefined;
    try {
      ({ env, secrets } = resolveFor(def, opts.name, spec, block, s.home, undefined, ropts));
    } catch (err) {
      // Refused before anything is made (a remote target's placeholders): no lease either.
      if (!hadLease) catalog.releaseLease(opts.name);
      throw err;
    }
    for (const w of warnings) s.log(`warning: ${formatIssue(w)}`);
    if (existed && confirm) {
      let yes = false;
      try {
        yes = await confirmed(s, engine, env, confirm, secrets);
      } finally {
        // Until the answer is yes, nothing is written: not even a lease the env did not hold.
        if (!yes && !hadLease) catalog.releaseLease(opts.name);
      }
      if (!yes) throw new UserError("cancelled; nothing changed", 1);
    }
    // The lock comes after the answer (asking writes nothing); what another operation did
    // while this one waited for it is read again.
    op = await beginOperation({
      catalog,
      engine,
      s,
      name: opts.name,
      verb: "up",
      wait: opts.wait,
      waitTimeout: opts.waitTimeout,
    });
    existed = await stackExists(engine, opts.name);
    if (!existed) {
      try {
        await initStack(engine, opts.name, s.signal);
      } catch (err) {
        // Nothing else exists yet for a new env: give the block back.
        if (!hadLease) catalog.releaseLease(opts.name);
        throw err;
      }
    }
    recordEnv(
      catalog,
      env,
      spec,
      catalog.getEnv(opts.name)?.status === "ready" ? "ready" : "creating",
    );

    // A hivesync deploy keeps the one before it for `envctl rollback`.
    if (env.kind === "hivesync" && existed) {
      await rememberPrevious(engine, opts.name, { env, secrets: secrets ?? {} });
    }
    if (!opts.json)
      s.log(
        `${existed ? "updating" : "creating"} env ${opts.name} (ports ${env.base}-${env.base + 999})`,
      );
    const res = await applyEnv({
      s,
      catalog,
      engine,
      stack: opts.name,
      env,
      json: opts.json,
      verb: "up",
      ...(secrets ? { secrets } : {}),
    });
    if (env.kind === "hivesync") deployed(engine, opts.name, { env, secrets: secrets ?? {} });
    const outputs = res.outputs;
    if (opts.json) {
      s.out(
        jsonDoc("up", {
          env: opts.name,
          result: "succeeded",
          changes: res.changes,
          operations: res.operations,
          outputs,
        }),
      );
    } else {
      report(s, env, res, "is up");
    }
    return outputs;
  } finally {
    op?.release();
    catalog.close();
  }
}
