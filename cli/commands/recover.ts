import { openEngine, selectStack } from "../../lib/engine/automation";
import { engineFailure } from "../../lib/engine/errors";
import { Progress } from "../../lib/engine/progress";
import { checkName, refuseMissing, seams, type CommandSeams } from "../context";

export interface RecoverOptions extends CommandSeams {
  name: string;
}

/**
 * After an interrupted operation: release the stack lock, then refresh from reality with pending
 * creates cleared, so the next `up` or `destroy` starts from what actually exists.
 */
export async function recover(opts: RecoverOptions): Promise<void> {
  const s = seams(opts);
  checkName(opts.name);
  await refuseMissing(s.home, opts.name);
  const engine = await openEngine(s.home);
  const stack = await selectStack(engine, opts.name);
  await stack.cancel().catch(() => undefined);
  const progress = new Progress(s.log, false);
  try {
    await stack.refresh({ onEvent: progress.onEvent, clearPendingCreates: true });
  } catch (err) {
    throw engineFailure(err, {
      verb: "recover",
      env: opts.name,
      diagnostics: progress.diagnostics,
    });
  }
  s.log(
    `env ${opts.name} recovered: run \`envctl up ${opts.name}\` or \`envctl destroy ${opts.name}\``,
  );
}
