/**
 * dust-hive's lifecycle verbs. Each one is an `up` of the env's stack with another desired
 * state in its config: spawn (worktree + cold), warm, cool, start, stop.
 */
import { checkCopilotReady } from "../../lib/kinds/copilot/ready";
import { checkHivesyncReady } from "../../lib/kinds/hivesync/ready";
import * as fs from "node:fs";
import {
  forgetStack,
  openEngine,
  selectStack,
  stackExists,
  type Engine,
} from "../../lib/engine/automation";
import type { Catalog } from "../../lib/catalog/catalog";
import { badInput, UserError } from "../../lib/core/errors";
import { envDir } from "../../lib/core/home";
import {
  coolSome,
  transitionProblem,
  VERB_TARGET,
  warmSome,
  type Verb,
} from "../../lib/kinds/devenv/lifecycle";
import type { EnvState, ResolvedEnv } from "../../lib/spec/model";
import { envctlContainers, envReality, trimLogs } from "../../lib/kinds/devenv/reality";
import { Progress } from "../../lib/engine/progress";
import { engineReasons } from "../../lib/engine/errors";
import { initStack } from "../../lib/engine/update";
import { leaseFor, refuseHeldFixedPorts } from "../../lib/catalog/leases";
import { FORCE_VAR } from "../../lib/core/names";
import {
  checkName,
  noSuchService,
  openCatalog,
  envRecord,
  seams,
  type CommandSeams,
} from "../context";
import { beginOperation, type Operation, type OperationFlags } from "../operation";
import { checkRepo } from "../../lib/kinds/devenv/env";
import { recordEnv } from "../../lib/catalog/records";
import type { SpecSource } from "../../lib/spec/sources";
import { kindOf, resolveFor, SPEC_KIND } from "../../lib/kinds";
import { jsonDoc } from "../ui/output";
import { applyEnv, applyRemoval, report } from "./apply";

export interface SpawnOptions extends CommandSeams, SpecSource, OperationFlags {
  name: string;
  /** Branch or commit the env's branch starts from (overrides the spec's `base`). */
  base?: string;
  /** Open the env afterwards (commander's --no-open sets false). @default true */
  open?: boolean;
  json?: boolean;
}

/** Creates a new env in the cold state; a failure removes everything it created. */
export async function spawn(opts: SpawnOptions): Promise<void> {
  const s = seams(opts);
  checkName(opts.name);
  // Loaded here: the spec's schema and checks are ~0.07 s the other verbs need not pay.
  const { loadSpec, specSource } = await import("../../lib/spec/sources");
  const { formatIssue } = await import("../../lib/spec/load");
  const { unsafePorts } = await import("../../lib/spec/ports");
  const { preflight } = await import("../../lib/spec/validate");
  const { spec, warnings } = loadSpec(specSource(opts), s.cwd);
  checkCopilotReady(spec, "spawn", s.log);
  checkHivesyncReady(spec, "spawn", s.log);
  if (opts.base !== undefined) spec.base = opts.base;
  await checkRepo(spec);
  await preflight(spec);
  const catalog = openCatalog(s.home);
  let op: Operation | undefined;
  try {
    const engine = await openEngine(s.home);
    op = await beginOperation({
      catalog,
      engine,
      s,
      name: opts.name,
      verb: "spawn",
      wait: opts.wait,
      waitTimeout: opts.waitTimeout,
    });
    if (catalog.getEnv(opts.name) || (await stackExists(engine, opts.name))) {
      throw badInput(`env ${opts.name} already exists`, [
        `pick another name, or remove it first with \`envctl destroy ${opts.name}\``,
      ]);
    }
    for (const w of warnings) s.log(`warning: ${formatIssue(w)}`);
    refuseHeldFixedPorts(catalog, opts.name, spec.services);
    const block = await leaseFor(catalog, opts.name, spec);
    for (const w of unsafePorts(spec.services, block)) s.log(`warning: ${formatIssue(w)}`);
    const def = kindOf(spec.kind ?? SPEC_KIND, "spec");
    const ropts = { hostById: (id: string) => catalog.hosts.get(id) };
    let env;
    let secrets;
    try {
      ({ env, secrets } = resolveFor(def, opts.name, spec, block, s.home, "cold", ropts));
      await initStack(engine, opts.name, s.signal);
    } catch (err) {
      catalog.releaseLease(opts.name);
      throw err;
    }
    recordEnv(catalog, env, spec, "creating");
    catalog.setDesired(opts.name, env);
    if (!opts.json) {
      s.log(`spawning env ${opts.name} from ${spec.base} (ports ${env.base}-${env.base + 999})`);
    }
    let res;
    try {
      res = await applyEnv({
        s,
        catalog,
        engine,
        stack: opts.name,
        env,
        json: opts.json,
        verb: "spawn",
        recovery: "",
        ...(secrets ? { secrets } : {}),
      });
    } catch (err) {
      const left = await rollback(s, catalog, engine, opts.name);
      const details = err instanceof UserError ? err.details.filter(Boolean) : [String(err)];
      const reason = err instanceof UserError ? err.message : "spawn failed";
      throw new UserError(
        left.length === 0
          ? `${reason}; everything it created was removed (worktree, branch, port lease, stack)`
          : `${reason}; cleaning up also failed`,
        1,
        [...details, ...left],
      );
    }
    if (opts.json) {
      s.out(
        jsonDoc("spawn", {
          env: opts.name,
          state: "cold",
          changes: res.changes,
          outputs: res.outputs,
        }),
      );
    } else {
      report(s, env, res, "is cold");
    }
    if (opts.open === false || opts.json) return;
    if (!process.stdin.isTTY) {
      s.log(`open it with: envctl open ${opts.name}`);
      return;
    }
    op.release(); // opening the env is not part of the operation
    const { open } = await import("./open");
    await open({ name: opts.name, home: s.home });
  } finally {
    op?.release();
    catalog.close();
  }
}

/** Undo a failed spawn: destroy what the stack holds, drop the stack, lease, row and state dir. */
async function rollback(
  s: ReturnType<typeof seams>,
  catalog: Catalog,
  engine: Engine,
  name: string,
): Promise<string[]> {
  const left: string[] = [];
  s.log(`spawn of ${name} failed: removing what it created`);
  try {
    const stack = await selectStack(engine, name);
    const progress = new Progress(s.log, false);
    // Nothing in the half-made env is the user's yet: its worktree goes even if services wrote to it.
    stack.workspace.envVars[FORCE_VAR] = "1";
    await stack.destroy({ onEvent: progress.onEvent });
    await (await engine.workspace()).removeStack(name);
    forgetStack(engine, name);
  } catch (err) {
    left.push(
      `the stack could not be destroyed (${(err instanceof UserError ? [err.message] : engineReasons(err)).join("; ")}); run \`envctl destroy ${name} --force\``,
    );
    return left;
  }
  catalog.removeEnv(name);
  fs.rmSync(envDir(s.home, name), { recursive: true, force: true });
  return left;
}

export interface TransitionOptions extends CommandSeams, OperationFlags {
  name: string;
  verb: Verb;
  json?: boolean;
  /** stop only: remove the env's volumes too (compose's `down -v`). */
  volumes?: boolean;
  /** warm and cool only: just these services (warm: with what they need; cool: with their dependents). */
  services?: string[];
}

/**
 * `warm NAME SERVICE...` / `cool NAME SERVICE...`: the desired state that runs the named
 * services (and what they need) or stops them (and what needs them); bad names are exit 2.
 */
function pickServices(
  verb: Verb,
  name: string,
  env: ResolvedEnv,
  named: string[],
): { state: EnvState; only?: string[]; stopping: string[] } {
  if (verb !== "warm" && verb !== "cool") {
    throw badInput(`${verb} applies to the whole env; only warm and cool take services`);
  }
  const unknown = named.find((n) => !env.services.some((svc) => svc.name === n));
  if (unknown !== undefined) throw noSuchService(name, env.services, unknown);
  if (verb === "warm")
    return { ...warmSome(env.services, env.state, env.only, named), stopping: [] };
  if (env.state !== "warm") {
    throw badInput(`env ${name} is ${env.state}: none of its services is warm to cool`);
  }
  const cold = named.find((n) => env.services.find((svc) => svc.name === n)?.cold);
  if (cold !== undefined) {
    throw badInput(
      `${cold} is a cold service: it runs while the env is cold too (\`envctl stop ${name}\` stops it)`,
    );
  }
  return coolSome(env.services, env.only, named);
}

/** warm / cool / start / stop: the same stack, another desired state. */
export async function transition(opts: TransitionOptions): Promise<void> {
  const s = seams(opts);
  checkName(opts.name);
  envRecord(s.home, opts.name, opts.verb); // a missing env is refused before anything is written
  const catalog = openCatalog(s.home);
  let op: Operation | undefined;
  try {
    const engine = await openEngine(s.home);
    op = await beginOperation({
      catalog,
      engine,
      s,
      name: opts.name,
      verb: opts.verb,
      wait: opts.wait,
      waitTimeout: opts.waitTimeout,
    });
    // Read under the lock: the operation that held it may have changed or removed the env.
    const record = envRecord(s.home, opts.name, opts.verb);
    if (!record.resolved) {
      throw badInput(
        `env ${opts.name} has no recorded spec: run \`envctl up ${opts.name} -f SPEC\` once`,
      );
    }
    const from = record.state;
    if (opts.volumes && opts.verb !== "stop") throw badInput("--volumes applies to stop only");
    const named = opts.services ?? [];
    const some =
      named.length > 0 ? pickServices(opts.verb, opts.name, record.resolved, named) : undefined;
    // A stopped env can still drop its volumes.
    const dropping = opts.verb === "stop" && opts.volumes && !record.resolved.volumesDropped;
    const problem = dropping ? undefined : transitionProblem(opts.verb, from, opts.name);
    if (problem && !(some && opts.verb === "warm" && from !== "stopped")) throw badInput(problem);
    const target = some?.state ?? VERB_TARGET[opts.verb];
    const only = some ? some.only : undefined;
    if (target !== "stopped") refuseHeldFixedPorts(catalog, opts.name, record.resolved.services);
    trimLogs(record.resolved);
    const reality = envReality(
      record.resolved,
      from,
      await envctlContainers(record.resolved.dockerHost),
    );
    const sameOnly = JSON.stringify(only ?? null) === JSON.stringify(record.resolved.only ?? null);
    if (
      target === from &&
      sameOnly &&
      !dropping &&
      reality.warnings.length === 0 &&
      record.status === "ready"
    ) {
      if (opts.json) s.out(jsonDoc(opts.verb, { env: opts.name, state: target, changes: {} }));
      else
        s.log(
          some
            ? `env ${opts.name}: ${named.join(", ")} ${opts.verb === "warm" ? "already run" : "already stopped"}`
            : `env ${opts.name} is already ${target}; everything it runs is up`,
        );
      return;
    }
    if (target === from && sameOnly && !opts.json) {
      s.log(`env ${opts.name}: ${reality.warnings.join(", ")}; restarting`);
    }
    const { volumesDropped: _was, only: _only, ...kept } = record.resolved;
    const env = {
      ...kept,
      state: target,
      ...(only ? { only } : {}),
      ...(opts.verb === "stop" && (opts.volumes || _was) ? { volumesDropped: true } : {}),
    };
    if (some && !opts.json) {
      s.log(
        opts.verb === "cool"
          ? `cooling ${some.stopping.join(", ")} of env ${opts.name}${some.stopping.length > named.length ? " (with what depends on them)" : ""}`
          : `warming ${named.join(", ")} of env ${opts.name} (with what they need)`,
      );
    }
    if (!opts.json && !some)
      s.log(`${opts.verb === "stop" ? "stopping" : `${opts.verb}ing`} env ${opts.name}`);
    const args = { s, catalog, engine, stack: opts.name, env, json: opts.json, verb: opts.verb };
    // The last update left the stack as its config says and reality agrees: a verb that only
    // removes services need not run the program.
    const removing = opts.verb === "cool" || opts.verb === "stop";
    // Dropping volumes runs the program: the stopped env without them is its own plan.
    // (Not for some services, nor from a warm env running some: the supervisor's config changes.)
    const res =
      removing &&
      !some &&
      !record.resolved.only &&
      !dropping &&
      record.status === "ready" &&
      reality.warnings.length === 0
        ? await applyRemoval({ ...args, from })
        : await applyEnv(args);
    if (opts.json) {
      s.out(
        jsonDoc(opts.verb, {
          env: opts.name,
          state: target,
          changes: res.changes,
          operations: res.operations,
          outputs: res.outputs,
        }),
      );
    } else {
      report(s, env, res, `is ${target}`);
    }
  } finally {
    op?.release();
    catalog.close();
  }
}
