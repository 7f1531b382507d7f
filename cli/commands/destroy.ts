import * as fs from "node:fs";
import * as readline from "node:readline/promises";
import { forgetStack, openEngine, stackExists, trySelectStack } from "../../lib/engine/automation";
import { engineFailure } from "../../lib/engine/errors";
import { envDir } from "../../lib/core/home";
import { badInput, UserError } from "../../lib/core/errors";
import { Progress } from "../../lib/engine/progress";
import type { EnvRecord } from "../../lib/catalog/catalog";
import { FORCE_VAR, LABEL_ENV } from "../../lib/core/names";
import { vmAddress } from "../../lib/kinds/hivesync/target";
import { removeLabelled } from "../../lib/docker/index";
import { unsavedWork } from "../../lib/providers/worktree";
import { checkName, openCatalog, refuseMissing, seams, type CommandSeams } from "../context";
import { beginOperation, type Operation, type OperationFlags } from "../operation";
import { jsonDoc } from "../ui/output";

export interface DestroyOptions extends CommandSeams, OperationFlags {
  name: string;
  force?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** Uncommitted changes in the env's worktree (empty when clean or gone). */
/** What removing the env's worktree would lose, as lines for the refusal (none: nothing). */
export async function unsavedLines(record: EnvRecord | undefined): Promise<string[]> {
  if (!record?.worktreePath || !record.branch || !record.resolved) return [];
  const work = await unsavedWork({
    repo: record.resolved.repo,
    dir: record.worktreePath,
    branch: record.branch,
    base: record.resolved.baseRef,
  });
  return [
    ...work.files.slice(0, 20),
    ...(work.commits > 0
      ? [`${work.commits} commit(s) on ${record.branch} that no other branch holds`]
      : []),
  ];
}

/** Removes every container, volume, network, worktree, lease and catalog row the env owns. */
export async function destroy(opts: DestroyOptions): Promise<void> {
  const s = seams(opts);
  checkName(opts.name);
  await refuseMissing(s.home, opts.name);
  const catalog = openCatalog(s.home);
  let op: Operation | undefined;
  try {
    const engine = await openEngine(s.home);
    const missing = async (): Promise<boolean> =>
      !catalog.getEnv(opts.name) &&
      !catalog.getLease(opts.name) &&
      !(await stackExists(engine, opts.name));
    const gone = (): UserError =>
      badInput(`env ${opts.name} does not exist`, [
        "see `envctl list` for the envs in this ENVCTL_HOME",
      ]);
    if (await missing()) throw gone(); // refused before anything is locked
    op = await beginOperation({
      catalog,
      engine,
      s,
      name: opts.name,
      verb: "destroy",
      wait: opts.wait,
      waitTimeout: opts.waitTimeout,
    });
    // Under the lock: the operation that held it may have destroyed the env meanwhile.
    if (await missing()) throw gone();
    const record = catalog.getEnv(opts.name);
    const stack = await trySelectStack(engine, opts.name);
    const unsaved = await unsavedLines(record);
    if (unsaved.length > 0 && !opts.force) {
      throw new UserError(
        `env ${opts.name} has work in ${record!.worktreePath} that exists nowhere else; commit and push it, or pass --force`,
        1,
        unsaved,
      );
    }
    if (!opts.yes && !opts.json && process.stdin.isTTY) {
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`destroy env ${opts.name} and everything in it? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) throw new UserError("cancelled; nothing changed", 1);
    }
    if (record) catalog.setStatus(opts.name, "destroying");
    const progress = new Progress(opts.json ? undefined : s.log, false);
    if (stack) {
      if (!opts.json) s.log(`destroying env ${opts.name}`);
      try {
        // The worktree handler removes a worktree holding unsaved work only when forced.
        if (opts.force) stack.workspace.envVars[FORCE_VAR] = "1";
        await stack.destroy({ onEvent: progress.onEvent, signal: s.signal });
        await (await engine.workspace()).removeStack(opts.name);
        forgetStack(engine, opts.name);
      } catch (err) {
        throw engineFailure(err, {
          verb: "destroy",
          env: opts.name,
          diagnostics: progress.diagnostics,
          interrupted: s.signal?.aborted,
          recovery:
            `nothing was forgotten: run \`envctl destroy ${opts.name}\` again once the cause is fixed` +
            (record?.resolved?.dockerHost && !opts.force
              ? `; if its host is gone for good (a deleted VM), \`envctl destroy ${opts.name} --force\` takes what was on it as gone`
              : ""),
        });
      }
    }
    // What carries the env's label outside state: images a rebuild left untagged, objects an
    // operation that died made before state recorded them; on the engine the env ran on (a
    // linode env's VM is gone with everything on it).
    const resolved = record?.resolved;
    const vm = resolved?.hivesync?.target === "linode" ? resolved.hostId : undefined;
    if (!vm) {
      await removeLabelled(LABEL_ENV, opts.name, resolved?.dockerHost).catch((err: unknown) => {
        if (!opts.json) s.log(`warning: leftovers of ${opts.name} stay in Docker: ${String(err)}`);
      });
    }
    catalog.removeEnv(opts.name); // and its lease
    // The VM's catalog host went with the VM (not a host of that id added by hand).
    const known = vm ? catalog.hosts.get(vm) : undefined;
    if (vm && known?.sshHost === vmAddress(resolved) && catalog.envsOnHost(vm).length === 0) {
      catalog.hosts.remove(vm);
    }
    fs.rmSync(envDir(s.home, opts.name), { recursive: true, force: true });
    if (opts.json) s.out(jsonDoc("destroy", { env: opts.name, operations: progress.ops }));
    else s.log(`env ${opts.name} destroyed`);
  } finally {
    op?.release();
    catalog.close();
  }
}
