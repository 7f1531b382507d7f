import { UserError, badInput } from "../../lib/core/errors";
import { openEngine, selectStack, stackExists } from "../../lib/engine/automation";
import { engineFailure } from "../../lib/engine/errors";
import { hostLabel } from "../../lib/engine/heal";
import { Progress } from "../../lib/engine/progress";
import type { LockHolder } from "../../lib/catalog/locks";
import { liveness, stopOperation } from "../../lib/runtime/processes";
import { checkName, openCatalog, refuseMissing, seams, type CommandSeams } from "../context";
import { beginOperation, type Operation } from "../operation";

export interface RecoverOptions extends CommandSeams {
  name: string;
  /** Stop a live operation on the env (or take the lock from one on another host) first. */
  force?: boolean;
}

/** How long a holder stopped by `--force` gets to let its engine finish cleanly. */
const STOP_GRACE_MS = 30_000;

/**
 * After an interrupted operation: take the env's lock (healing what a dead holder left: its
 * engine processes, Pulumi's lock, pending operations), then refresh from reality with pending
 * creates cleared, so the next `up` or `destroy` starts from what actually exists. A live
 * holder is refused: refreshing under a running update makes the state forget what it creates.
 */
export async function recover(opts: RecoverOptions): Promise<void> {
  const s = seams(opts);
  checkName(opts.name);
  await refuseMissing(s.home, opts.name);
  const catalog = openCatalog(s.home);
  let op: Operation | undefined;
  try {
    const engine = await openEngine(s.home);
    if (!catalog.getEnv(opts.name) && !(await stackExists(engine, opts.name))) {
      throw badInput(`env ${opts.name} does not exist`, [
        "see `envctl list` for the envs in this ENVCTL_HOME",
      ]);
    }
    const holder = catalog.locks.holder(opts.name);
    if (holder && opts.force && liveness(holder) !== "dead") {
      if (liveness(holder) === "alive") {
        s.log(
          `recover --force: stopping \`envctl ${holder.verb}\` (pid ${holder.pid}) mid-operation; ` +
            `what it was creating may be left half made (the next up replaces it)`,
        );
        await stopHolder(holder);
      } else {
        s.log(
          `recover --force: taking the lock from \`envctl ${holder.verb}\` (pid ${holder.pid} on ` +
            `${hostLabel(holder.host)}); if it still runs there, both will write the stack`,
        );
      }
    }
    op = await beginOperation({
      catalog,
      engine,
      s,
      name: opts.name,
      verb: "recover",
      isDead: opts.force ? () => true : undefined,
    }).catch((err: unknown) => {
      if (err instanceof UserError && /is busy/.test(err.message)) {
        throw new UserError(
          `${err.message}; recover would make its state forget what it is creating`,
          1,
          [
            "wait for it to finish, or stop it and recover in one step with `envctl recover " +
              `${opts.name} --force\``,
          ],
        );
      }
      throw err;
    });
    if (!(await stackExists(engine, opts.name))) {
      s.log(`env ${opts.name} has no stack: nothing to refresh`);
      return;
    }
    const stack = await selectStack(engine, opts.name);
    await stack.cancel().catch(() => undefined); // backends with server-side locks
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
  } finally {
    op?.release();
    catalog.close();
  }
}

/** SIGTERM the holding envctl (it stops its engine and waits), then whatever it left running. */
async function stopHolder(holder: LockHolder): Promise<void> {
  try {
    process.kill(holder.pid, "SIGTERM");
  } catch {
    // gone meanwhile
  }
  const until = Date.now() + STOP_GRACE_MS;
  while (liveness(holder) === "alive") {
    if (Date.now() > until) {
      try {
        process.kill(holder.pid, "SIGKILL");
      } catch {
        // gone
      }
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopOperation(holder.token);
}
