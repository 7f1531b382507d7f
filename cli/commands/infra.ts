/**
 * `envctl infra NAME apply|destroy`: the document's `copilot dev infra apply/destroy`, on the
 * copilot stack's AWS part alone (DSQL clusters, knowledge base); the containers are untouched.
 * apply is a targeted `pulumi up` of that part; destroy a targeted `pulumi destroy`, refused
 * while containers that use its endpoints exist (stop the env first).
 */
import { badInput, UserError } from "../../lib/core/errors";
import { ensureConfig, stackConfig } from "../../lib/engine/automation";
import { engineFailure } from "../../lib/engine/errors";
import { Progress } from "../../lib/engine/progress";
import { readStack } from "../../lib/engine/state";
import { runDestroy, runUp } from "../../lib/engine/update";
import { checkCopilotReady } from "../../lib/kinds/copilot/ready";
import { infraHeld, infraTargets } from "../../lib/kinds/copilot/infra";
import { checkName, envRecord, seams, type CommandSeams } from "../context";
import { withOperation } from "../operation";
import { jsonDoc } from "../ui/output";

export interface InfraOptions extends CommandSeams {
  name: string;
  action: string;
  json?: boolean;
  wait?: boolean;
  waitTimeout?: string;
}

export async function infra(opts: InfraOptions): Promise<void> {
  const s = seams(opts);
  checkName(opts.name);
  if (opts.action !== "apply" && opts.action !== "destroy") {
    throw badInput(`infra: unknown action ${JSON.stringify(opts.action)}; use apply or destroy`);
  }
  const rec = envRecord(s.home, opts.name, "infra");
  const env = rec.resolved;
  if (!env?.copilot) throw badInput(`env ${opts.name} has no recorded copilot spec`);
  if (env.copilot.infra !== "aws") {
    throw badInput(
      `env ${opts.name} has no AWS part (copilot.infra none): its DSQL endpoints come from .env`,
      ["set copilot.infra: aws in its spec and run `envctl up` to give it one"],
    );
  }
  checkCopilotReady(env, `infra ${opts.action}`, s.log);
  const { name } = opts;
  const { region } = env.copilot;
  await withOperation(
    { s, name, verb: "infra", wait: opts.wait, waitTimeout: opts.waitTimeout },
    async ({ catalog, engine }) => {
      const progress = new Progress(opts.json ? undefined : s.log, false);
      let changes: Record<string, number> = {};
      try {
        if (opts.action === "apply") {
          await ensureConfig(engine, opts.name, stackConfig(env));
          if (!opts.json) s.log(`applying the AWS part of env ${opts.name} (${region})`);
          const res = await runUp(engine, opts.name, {
            targets: infraTargets(opts.name),
            onEvent: progress.onEvent,
            signal: s.signal,
          });
          changes = res.changes;
          // What schema and outputs read: the AWS part's outputs as the stack now has them.
          const infraOut = (res.outputs.env as { infra?: unknown } | undefined)?.infra;
          if (infraOut) catalog.setOutputs(opts.name, { ...(rec.outputs ?? {}), infra: infraOut });
        } else {
          const state = await readStack(engine, opts.name);
          const { infra: urns, dependents } = infraHeld(state.resources);
          if (dependents.length > 0) {
            const names = dependents.map(
              (d) => (d.outputs?.name as string | undefined) ?? d.urn.split("::").at(-1),
            );
            throw new UserError(
              `env ${opts.name}: ${names.join(", ")} use the AWS part's endpoints; stop the env first (\`envctl stop ${opts.name}\`: containers stopped, volumes kept), then run infra destroy`,
              1,
            );
          }
          if (urns.length === 0) {
            if (!opts.json) s.log(`env ${opts.name} has no AWS resources; nothing to destroy`);
          } else {
            if (!opts.json) s.log(`destroying the AWS part of env ${opts.name}`);
            changes = (
              await runDestroy(engine, opts.name, urns, {
                onEvent: progress.onEvent,
                signal: s.signal,
              })
            ).changes;
            const { infra: _gone, ...rest } = rec.outputs ?? {};
            catalog.setOutputs(opts.name, rest);
            if (!opts.json) {
              s.log(
                `the next \`envctl up\`, \`start\` or \`warm\` of ${opts.name} makes the AWS part again (its containers need it)`,
              );
            }
          }
        }
      } catch (err) {
        if (err instanceof UserError) throw err;
        throw engineFailure(err, {
          verb: `infra ${opts.action}`,
          env: opts.name,
          diagnostics: progress.diagnostics,
          interrupted: s.signal?.aborted,
          recovery: `the containers were not touched; fix the cause and run \`envctl infra ${opts.name} ${opts.action}\` again`,
        });
      }
      if (opts.json)
        s.out(
          jsonDoc("infra", {
            env: opts.name,
            action: opts.action,
            changes,
            operations: progress.ops,
          }),
        );
      else s.log(`env ${opts.name}: infra ${opts.action} done`);
    },
  );
}
