/**
 * What an env's supervisor reads and writes in the env's state dir, and its readers for the CLI:
 *
 *   .supervisor.config.json  what to supervise (the Supervisor resource writes it; SIGHUP rereads)
 *   .supervisor.state.json   every supervised service now: pid, uptime, restarts, next retry,
 *                            health (rewritten on each change, and once a second)
 *   events.ndjson            one SupervisorEvent per line, appended (`envctl events NAME`)
 *   .supervisor.pid / .log   the supervisor's own daemon files (lib/runtime/daemon.ts)
 *
 * A leading dot keeps them apart from the services' own files: no service name starts with one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeAtomic } from "../core/atomic";
import type { HealthCheck, ResolvedPort, RestartPolicy, WatchSpec } from "../spec/model";

/** The supervisor's daemon name (its pid and log files). */
export const SUPERVISOR = ".supervisor";

export const configPath = (stateDir: string): string =>
  path.join(stateDir, ".supervisor.config.json");
export const statePath = (stateDir: string): string =>
  path.join(stateDir, ".supervisor.state.json");
export const eventsPath = (stateDir: string): string => path.join(stateDir, "events.ndjson");

/** The a3s document's RestartPolicy: exponential backoff, reset after a stretch of health. */
export interface BackoffSpec {
  /** @default 1000 */
  initialMs: number;
  /** @default 30000 */
  maxMs: number;
  /** Healthy this long, the next crash waits initialMs again. @default 60000 */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffSpec = {
  initialMs: 1000,
  maxMs: 30_000,
  resetAfterMs: 60_000,
};

export interface SupervisedService {
  name: string;
  restart: RestartPolicy;
  maxRestarts?: number;
  health?: HealthCheck;
  ports: ResolvedPort[];
  /** Absolute working directory (probe commands run there). */
  cwd: string;
  /** Watch paths made absolute. */
  watch?: WatchSpec;
}

export interface SupervisorConfig {
  env: string;
  stateDir: string;
  /** The home's catalog: no restart while an envctl operation holds the env's lock. */
  catalogFile: string;
  envFile: string;
  services: SupervisedService[];
  backoff: BackoffSpec;
  logLevel: string;
  /** Hash of the rest: the state file names the config it runs, so a writer knows it was read. */
  hash: string;
}

export type ServicePhase =
  "running" | "unhealthy" | "starting" | "backoff" | "exited" | "crashed" | "failed" | "stopped";

export interface ServiceStatus {
  name: string;
  phase: ServicePhase;
  restart: RestartPolicy;
  pid?: number;
  /** When the running process started (ms since the epoch). */
  sinceMs?: number;
  /** Restarts since the last reset (what max_restarts counts). */
  restarts: number;
  /** Restarts since the supervisor started. */
  totalRestarts: number;
  /** When the next restart is due (phase backoff). */
  nextRetryAtMs?: number;
  /** Liveness: undefined until the first probe after the start. */
  healthy?: boolean;
  /** Consecutive failed probes. */
  failures: number;
  lastExit?: { code?: number; atMs: number };
  /** Why it is down or failed. */
  reason?: string;
  /** Its log's last lines, for a failed service. */
  logTail?: string;
}

export interface SupervisorState {
  pid: number;
  env: string;
  configHash: string;
  updatedAtMs: number;
  services: ServiceStatus[];
}

/** The document's SupervisorEvent: StateChanged and HealthChange (and file watch bursts). */
export interface SupervisorEvent {
  time: string;
  env: string;
  service?: string;
  type: "state" | "health" | "watch" | "supervisor";
  state?: ServicePhase | "started" | "stopped" | "reloaded";
  healthy?: boolean;
  pid?: number;
  restarts?: number;
  nextRetryMs?: number;
  exitCode?: number;
  reason?: string;
  /** watch: how many changes the burst had, and the first path. */
  changes?: number;
  path?: string;
}

export function readSupervisorState(stateDir: string): SupervisorState | undefined {
  try {
    return JSON.parse(fs.readFileSync(statePath(stateDir), "utf8")) as SupervisorState;
  } catch {
    return undefined;
  }
}

export function readSupervisorConfig(stateDir: string): SupervisorConfig | undefined {
  try {
    return JSON.parse(fs.readFileSync(configPath(stateDir), "utf8")) as SupervisorConfig;
  } catch {
    return undefined;
  }
}

export function writeJson(file: string, value: unknown): void {
  writeAtomic(file, `${JSON.stringify(value)}\n`);
}
