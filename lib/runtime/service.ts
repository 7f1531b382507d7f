/**
 * Starting a process service: the daemon (lib/runtime/daemon.ts) started with the env's ports
 * and env.sh, then held to its health check. The Process resource (lib/providers/process.ts)
 * and the env's supervisor (lib/supervisor) both start services through here; the recipe a
 * Process resource was created with is kept in `<name>.run.json` for the supervisor.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeAtomic } from "../core/atomic";
import {
  daemonStatus,
  startDaemon,
  stopDaemon,
  tailLog,
  truncateLogIfLarge,
  unstamp,
} from "./daemon";
import { busyPorts, formatMs, HealthTimeoutError, probeOnce, sleep, waitUntil } from "./probes";
import type { HealthCheck, ResolvedPort } from "../spec/model";
import { processEnv } from "../spec/ports";

export interface ProcessProps {
  /** Service name: names the pid and log files. */
  name: string;
  /** `$ENVCTL_HOME/envs/NAME`. */
  stateDir: string;
  /** Absolute working directory (inside the worktree). */
  cwd: string;
  cmd: string;
  vars: Record<string, string>;
  envFile: string;
  /** Hash of env.sh: a change restarts the daemon so it sees the new exports. */
  envShHash: string;
  ports: ResolvedPort[];
  health?: HealthCheck;
  pid?: number;
}

export const LOG_TAIL = 20;
const SETTLE_MS = 500;

export function logTail(stateDir: string, name: string): string {
  const tail = unstamp(tailLog(path.join(stateDir, `${name}.log`), LOG_TAIL)).trimEnd();
  return tail ? `\n--- last lines of ${name}.log ---\n${tail}` : ` (${name}.log is empty)`;
}

/** Starts the daemon and waits until its health check passes; stops it again on failure. */
export async function startProcess(p: ProcessProps): Promise<ProcessProps> {
  truncateLogIfLarge(path.join(p.stateDir, `${p.name}.log`));
  if (!fs.existsSync(p.cwd)) throw new Error(`${p.name}: directory ${p.cwd} does not exist`);
  if (!daemonStatus(p.stateDir, p.name).running) {
    // Otherwise the health check could pass against whatever holds the port.
    const busy = await busyPorts(p.ports.filter((x) => x.protocol === "tcp").map((x) => x.host));
    if (busy.length > 0) {
      throw new Error(
        `${p.name}: host port${busy.length > 1 ? "s" : ""} ${busy.join(", ")} already in use by another program; free ${busy.length > 1 ? "them" : "it"} and run the command again`,
      );
    }
  }
  // PORT and PORT_<n> derive from the `ports` input rather than being inputs of their own.
  const env = processEnv({ ports: p.ports, env: p.vars });
  const state = await startDaemon({
    name: p.name,
    dir: p.stateDir,
    cwd: p.cwd,
    cmd: p.cmd,
    env,
    envFile: p.envFile,
  });
  const alive = (): boolean => daemonStatus(p.stateDir, p.name).running;
  const dead = (): Error =>
    new Error(`${p.name} exited before it was healthy${logTail(p.stateDir, p.name)}`);
  try {
    const h = p.health;
    if (!h) {
      await sleep(SETTLE_MS);
      if (!alive()) throw dead();
    } else {
      const started = Date.now();
      try {
        await waitUntil(async () => {
          if (!alive()) throw dead();
          return probeOnce(h, p.ports, { cwd: p.cwd, envFile: p.envFile, env });
        }, h);
      } catch (err) {
        if (!(err instanceof HealthTimeoutError)) throw err;
        throw new Error(
          `${p.name} did not become healthy within ${formatMs(Date.now() - started)}: ${err.message}${logTail(p.stateDir, p.name)}`,
        );
      }
    }
  } catch (err) {
    // Only the daemon this start made: another starter's (after a stop meanwhile) stays.
    await stopDaemon(p.stateDir, p.name, { onlyPid: state.pid }).catch(() => undefined);
    throw err;
  }
  return { ...p, pid: state.pid };
}

/** What the supervisor starts a crashed daemon again from: the inputs it was created with. */
export function runFilePath(stateDir: string, name: string): string {
  return path.join(stateDir, `${name}.run.json`);
}

/** Keeps the recipe of `props` (create and update write it; delete removes it). */
export function writeRunFile(props: ProcessProps): void {
  writeAtomic(runFilePath(props.stateDir, props.name), `${JSON.stringify(props)}\n`);
}

export function readRunFile(stateDir: string, name: string): ProcessProps | undefined {
  try {
    return JSON.parse(fs.readFileSync(runFilePath(stateDir, name), "utf8")) as ProcessProps;
  } catch {
    return undefined;
  }
}
