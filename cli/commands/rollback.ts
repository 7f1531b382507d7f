/**
 * `envctl rollback NAME`: back to the deploy before the last one (its resolved env and its
 * secret values, from the stack's `deploy` output), as one update with the same deploy steps,
 * proxy switch and health check as any deploy. Rolling back twice returns to where it started.
 */
import { UserError } from "../../lib/core/errors";
import { deployed, deployRecord, PREVIOUS_KEY } from "../../lib/kinds/hivesync/deploys";
import { setSecretConfig } from "../../lib/engine/secrets";
import { kindOf } from "../../lib/kinds";
import { checkName, envRecord, seams, type CommandSeams } from "../context";
import { withOperation, type OperationFlags } from "../operation";
import { jsonDoc } from "../ui/output";
import { applyEnv, report } from "./apply";

export interface RollbackOptions extends CommandSeams, OperationFlags {
  name: string;
  json?: boolean;
}

export async function rollback(opts: RollbackOptions): Promise<Record<string, unknown>> {
  const s = seams(opts);
  checkName(opts.name);
  const record = envRecord(s.home, opts.name, "rollback");
  const def = kindOf(record.kind, `catalog: env ${opts.name}`);
  return withOperation(
    { s, name: opts.name, verb: "rollback", wait: opts.wait, waitTimeout: opts.waitTimeout },
    async ({ catalog, engine }) => {
      const rec = await deployRecord(engine, opts.name);
      if (!rec.previous || !rec.current) {
        throw new UserError(`env ${opts.name} has no earlier deploy to return to`, 1, [
          "rollback returns to the deploy before the last one; this env has had one deploy",
        ]);
      }
      const env = {
        ...def.upgrade(rec.previous.env, `the previous deploy of ${opts.name}`),
        state: "warm" as const,
      };
      // The deploy rolled back from becomes the one a second rollback returns to.
      deployed(engine, opts.name, undefined);
      await setSecretConfig(engine, opts.name, PREVIOUS_KEY, JSON.stringify(rec.current));
      if (!opts.json) s.log(`rolling ${opts.name} back to its previous deploy`);
      const res = await applyEnv({
        s,
        catalog,
        engine,
        stack: opts.name,
        env,
        secrets: rec.previous.secrets,
        json: opts.json,
        verb: "rollback",
      });
      deployed(engine, opts.name, { env, secrets: rec.previous.secrets });
      if (opts.json) {
        s.out(
          jsonDoc("rollback", {
            env: opts.name,
            result: "succeeded",
            changes: res.changes,
            operations: res.operations,
            outputs: res.outputs,
          }),
        );
      } else {
        report(s, env, res, "is rolled back");
      }
      return res.outputs;
    },
  );
}
