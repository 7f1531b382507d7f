import * as readline from "node:readline/promises";
import {
  ensureConfig,
  openEngine,
  selectStack,
  stackConfig,
  stackExists,
} from "../../lib/engine/automation";
import { UserError } from "../../lib/core/errors";
import { engineFailure } from "../../lib/engine/errors";
import { Progress } from "../../lib/engine/progress";
import { initStack } from "../../lib/engine/update";
import { formatIssue } from "../../lib/spec/load";
import { leaseFor } from "../../lib/catalog/leases";
import { unsafePorts } from "../../lib/spec/ports";
import { checkName, openCatalog, seams, type CommandSeams } from "../context";
import { beginOperation, type Operation, type OperationFlags } from "../operation";
import { checkRepo } from "../../lib/kinds/devenv/env";
import { recordEnv } from "../../lib/catalog/records";
import { loadSpec, specSource, type SpecSource } from "../../lib/spec/sources";
import { checkVerb, kindOf, SPEC_KIND } from "../../lib/kinds";
import { preflight } from "../../lib/spec/validate";
import { jsonDoc } from "../ui/output";
import { applyEnv, report } from "./apply";

export interface UpOptions extends CommandSeams, SpecSource, OperationFlags {
  name: string;
  yes?: boolean;
  json?: boolean;
}

/** Creates or updates one env so that it matches its spec. */
export async function up(opts: UpOptions): Promise<Record<string, unknown>> {
  const s = seams(opts);
  checkName(opts.name);
  const { spec, warnings } = loadSpec(specSource(opts), s.cwd);
  await checkRepo(spec);
  await preflight(spec);

  const catalog = openCatalog(s.home);
  let op: Operation | undefined;
  try {
    const engine = await openEngine(s.home);
    op = await beginOperation({ catalog, engine, s, name: opts.name, verb: "up", wait: opts.wait });
    const existed = await stackExists(engine, opts.name);
    const prior = catalog.getEnv(opts.name);
    const def = kindOf(prior?.kind ?? SPEC_KIND, `catalog: env ${opts.name}`);
    checkVerb(def, "up", opts.name);
    if (!existed && prior?.status === "destroying") {
      throw new UserError(
        `env ${opts.name} is half destroyed: run envctl destroy ${opts.name} first`,
      );
    }
    const hadLease = catalog.getLease(opts.name) !== undefined;
    const block = await leaseFor(catalog, opts.name, spec);
    for (const w of unsafePorts(spec.services, block)) s.log(`warning: ${formatIssue(w)}`);
    const env = def.resolve(opts.name, spec, block, s.home);
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
    for (const w of warnings) s.log(`warning: ${formatIssue(w)}`);

    if (!opts.yes && !opts.json && process.stdin.isTTY && existed) {
      const stack = await selectStack(engine, opts.name);
      await ensureConfig(engine, stack, stackConfig(env));
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      const previewProgress = new Progress(s.log, true);
      try {
        await stack.preview({ onEvent: previewProgress.onEvent, signal: s.signal });
      } catch (err) {
        rl.close();
        throw engineFailure(err, {
          verb: "preview",
          env: opts.name,
          diagnostics: previewProgress.diagnostics,
          interrupted: s.signal?.aborted,
        });
      }
      const answer = await rl.question(`apply these changes to ${opts.name}? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) throw new UserError("cancelled; nothing changed", 1);
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
    });
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
