/**
 * `envctl restart NAME SERVICE`: one service stopped (SIGTERM, up to 5 s, then SIGKILL) and
 * started again, held to its health check as `up` holds it; the others keep their processes.
 * It holds the env's lock meanwhile, so the env's supervisor leaves the service alone.
 */
import * as path from "node:path";
import { badInput, UserError } from "../../lib/core/errors";
import { containerName } from "../../lib/core/names";
import { openEngine } from "../../lib/engine/automation";
import { runningServices } from "../../lib/kinds/devenv/lifecycle";
import { daemonStatus, stopDaemon } from "../../lib/runtime/daemon";
import { formatMs, HealthTimeoutError, probeOnce, waitUntil } from "../../lib/runtime/probes";
import { readRunFile, startProcess } from "../../lib/runtime/service";
import type { ResolvedContainer, ResolvedEnv } from "../../lib/spec/model";
import {
  checkName,
  envRecord,
  noSuchService,
  openCatalog,
  seams,
  type CommandSeams,
} from "../context";
import { beginOperation, type Operation, type OperationFlags } from "../operation";
import { jsonDoc } from "../ui/output";

export interface RestartOptions extends CommandSeams, OperationFlags {
  name: string;
  service: string;
  json?: boolean;
}

/** The document's `a3s restart`: SIGTERM, 5 s, then SIGKILL. */
const GRACE_MS = 5_000;

export async function restart(opts: RestartOptions): Promise<void> {
  const s = seams(opts);
  checkName(opts.name);
  envRecord(s.home, opts.name, "restart");
  const catalog = openCatalog(s.home);
  let op: Operation | undefined;
  try {
    const engine = await openEngine(s.home);
    op = await beginOperation({
      catalog,
      engine,
      s,
      name: opts.name,
      verb: "restart",
      wait: opts.wait,
      waitTimeout: opts.waitTimeout,
    });
    const record = envRecord(s.home, opts.name, "restart");
    const env = record.resolved;
    if (!env)
      throw badInput(`env ${opts.name} has no recorded spec: run \`envctl up ${opts.name}\``);
    const svc = env.services.find((x) => x.name === opts.service);
    if (!svc) throw noSuchService(opts.name, env.services, opts.service);
    if (!runningServices(env.services, env.state, env.only).has(svc.name)) {
      throw badInput(`${svc.name} does not run while env ${opts.name} is ${env.state}`, [
        `\`envctl warm ${opts.name} ${svc.name}\` starts it`,
      ]);
    }
    const started = Date.now();
    const before = svc.type === "process" ? daemonStatus(env.stateDir, svc.name).pid : undefined;
    if (!opts.json) s.log(`restarting ${svc.name} of env ${opts.name}`);
    const pid =
      svc.type === "process"
        ? await restartProcess(env, svc.name)
        : await restartContainer(env, svc, record.outputs ?? undefined);
    const took = Date.now() - started;
    if (opts.json) {
      s.out(
        jsonDoc("restart", {
          env: opts.name,
          service: svc.name,
          type: svc.type,
          ...(before !== undefined ? { previousPid: before } : {}),
          ...(pid !== undefined ? { pid } : {}),
          ms: took,
        }),
      );
    } else {
      const pids = before !== undefined && pid !== undefined ? ` (pid ${before} -> ${pid})` : "";
      s.log(`restarted ${svc.name}${pids}: healthy after ${formatMs(took)}`);
    }
  } finally {
    op?.release();
    catalog.close();
  }
}

async function restartProcess(env: ResolvedEnv, name: string): Promise<number | undefined> {
  const props = readRunFile(env.stateDir, name);
  if (!props) {
    throw new UserError(
      `${name} has no start recipe (${name}.run.json): run \`envctl up ${env.name}\``,
    );
  }
  await stopDaemon(env.stateDir, name, { graceMs: GRACE_MS });
  try {
    return (await startProcess(props)).pid;
  } catch (err) {
    throw new UserError(`${name} did not come back: ${(err as Error).message}`, 1, [
      `\`envctl logs ${env.name} ${name}\` shows its output; \`envctl up ${env.name}\` starts it again`,
    ]);
  }
}

async function restartContainer(
  env: ResolvedEnv,
  svc: ResolvedContainer,
  outputs: Record<string, unknown> | undefined,
): Promise<number | undefined> {
  const { docker, dockerFailure } = await import("../../lib/docker/client");
  const { inspectContainer } = await import("../../lib/docker/inspect");
  const recorded = (outputs?.services ?? {}) as Record<string, { container?: string }>;
  const name = recorded[svc.name]?.container ?? containerName(env.name, svc.name);
  try {
    await docker(env.dockerHost)
      .getContainer(name)
      .restart({ t: GRACE_MS / 1000 });
  } catch (err) {
    throw dockerFailure(`restarting container ${name}`, err);
  }
  const h = svc.health;
  if (h) {
    const started = Date.now();
    try {
      await waitUntil(async () => {
        const info = await inspectContainer(name, env.dockerHost);
        if (!info?.running) throw new UserError(`container ${name} exited after the restart`);
        if (h.kind === "command") return info.health === "healthy";
        return probeOnce(h, svc.ports, {
          cwd: env.worktreeDir,
          envFile: path.join(env.stateDir, "env.sh"),
        });
      }, h);
    } catch (err) {
      if (!(err instanceof HealthTimeoutError)) throw err;
      throw new UserError(
        `${svc.name} did not become healthy within ${formatMs(Date.now() - started)}: ${err.message}`,
      );
    }
  }
  return (await inspectContainer(name, env.dockerHost))?.pid;
}
