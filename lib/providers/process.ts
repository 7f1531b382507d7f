/**
 * Handlers for host-side resources: process services (daemons), env.sh, and first-warm init.
 * Their diffs look at reality too: a daemon that died, or an env.sh edited by hand, is a
 * change the next `up` (and `pulumi preview`) shows and repairs.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { changedKeys } from "../core/canonical";
import { shellQuote } from "../core/shell";
import { userEnv } from "../core/toolchain";
import {
  daemonStatus,
  INIT_LOG,
  startDaemon,
  stopDaemon,
  tailLog,
  truncateLogIfLarge,
} from "../runtime/daemon";
import { HealthTimeoutError, formatMs, sleep, waitUntil, busyPorts } from "../runtime/probes";
import { probeOnce } from "../runtime/probes";
import type { HealthCheck, InitStep, ResolvedPort } from "../spec/model";
import { processEnv } from "../spec/ports";
import type { Handler } from "./types";

type Props = Record<string, unknown>;

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

const LOG_TAIL = 20;
const SETTLE_MS = 500;

function logTail(stateDir: string, name: string): string {
  const tail = tailLog(path.join(stateDir, `${name}.log`), LOG_TAIL).trimEnd();
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
    await stopDaemon(p.stateDir, p.name).catch(() => undefined);
    throw err;
  }
  return { ...p, pid: state.pid };
}

/** Whether the daemon recorded in `props` is the one running now. */
export function processRunning(props: Props): boolean {
  const st = daemonStatus(props.stateDir as string, props.name as string);
  return st.running && (props.pid === undefined || st.pid === props.pid);
}

/** Inputs the daemon (or its start) sees: a change restarts it. */
const processKeys = ["name", "stateDir", "cwd", "cmd", "vars", "envFile", "envShHash", "ports"];

/**
 * Which changed inputs restart the daemon (`replaces`) and which an update just records
 * (`updates`). `health` only says how envctl waits for a new daemon to be ready (status probes
 * read the catalog's copy), so a running daemon keeps running when it changes.
 */
export function processChanges(
  olds: Props,
  news: Props,
): { replaces: string[]; updates: string[] } {
  return {
    replaces: changedKeys(olds, news, processKeys),
    updates: changedKeys(olds, news, ["health"]),
  };
}

export const processHandler: Handler = {
  async create(inputs) {
    const outs = await startProcess(inputs as unknown as ProcessProps);
    return { id: `${outs.stateDir}/${outs.name}`, outs: outs as unknown as Props };
  },
  diff(_id, olds, news) {
    const { replaces, updates } = processChanges(olds, news);
    // A daemon that died (or was killed by hand) is restarted by the next up.
    if (!processRunning(olds)) replaces.push("pid");
    return Promise.resolve({
      changes: replaces.length + updates.length > 0,
      replaces,
      deleteBeforeReplace: true,
    });
  },
  // Only `health` reaches here (processChanges): record it, keep the daemon and its pid.
  update: (_id, olds, news) => Promise.resolve({ outs: { ...news, pid: olds.pid } }),
  async delete(_id, props) {
    await stopDaemon(props.stateDir as string, props.name as string);
  },
  read(id, props) {
    return Promise.resolve(processRunning(props) ? { id, props } : undefined);
  },
};

// ---------------------------------------------------------------------------------------------
// env.sh

export const fileHandler: Handler = {
  create(inputs) {
    writeFile(inputs.path as string, inputs.content as string);
    return Promise.resolve({ id: inputs.path as string, outs: inputs });
  },
  diff(_id, olds, news) {
    const changed = changedKeys(olds, news, ["path", "content"]);
    let onDisk: string | undefined;
    try {
      onDisk = fs.readFileSync(olds.path as string, "utf8");
    } catch {
      onDisk = undefined;
    }
    if (onDisk !== olds.content && !changed.includes("content")) changed.push("content");
    return Promise.resolve({
      changes: changed.length > 0,
      replaces: changed.includes("path") ? ["path"] : [],
    });
  },
  update(_id, _olds, news) {
    writeFile(news.path as string, news.content as string);
    return Promise.resolve({ outs: news });
  },
  delete(_id, props) {
    fs.rmSync(props.path as string, { force: true });
    return Promise.resolve();
  },
};

function writeFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------
// first-warm init

export interface InitMarker {
  at: string;
  steps: string[];
}

export function initMarkerPath(stateDir: string): string {
  return path.join(stateDir, "initialized");
}

export function readInitMarker(stateDir: string): InitMarker | undefined {
  try {
    return JSON.parse(fs.readFileSync(initMarkerPath(stateDir), "utf8")) as InitMarker;
  } catch {
    return undefined;
  }
}

/** Runs the steps in order unless the env was initialized before; records that it was. */
export async function runInit(p: {
  stateDir: string;
  worktree: string;
  envFile: string;
  steps: InitStep[];
}): Promise<InitMarker & { skipped: boolean }> {
  const done = readInitMarker(p.stateDir);
  if (done) return { ...done, skipped: true };
  const log = path.join(p.stateDir, INIT_LOG);
  fs.mkdirSync(p.stateDir, { recursive: true, mode: 0o700 });
  for (const step of p.steps) {
    fs.appendFileSync(
      log,
      `--- envctl: init step ${step.name} (${new Date().toISOString()}) ---\n`,
    );
    const code = await runStep(step, p, log);
    if (code !== 0) {
      const tail = tailLog(log, LOG_TAIL).trimEnd();
      throw new Error(
        `init step "${step.name}" failed (exit ${code}); the next warm runs the init steps again\n--- last lines of ${INIT_LOG} ---\n${tail}`,
      );
    }
  }
  const marker: InitMarker = { at: new Date().toISOString(), steps: p.steps.map((s) => s.name) };
  fs.writeFileSync(initMarkerPath(p.stateDir), JSON.stringify(marker) + "\n");
  return { ...marker, skipped: false };
}

function runStep(
  step: InitStep,
  p: { worktree: string; envFile: string },
  log: string,
): Promise<number> {
  const fd = fs.openSync(log, "a", 0o600);
  return new Promise<number>((resolve) => {
    const child = spawn("/bin/sh", ["-c", `. ${shellQuote(p.envFile)} || exit 1\n${step.run}`], {
      cwd: path.join(p.worktree, step.dir),
      env: { ...userEnv(), FORCE_COLOR: "1" },
      stdio: ["ignore", fd, fd],
    });
    child.on("error", (err) => {
      fs.appendFileSync(log, `${err.message}\n`);
      resolve(127);
    });
    child.on("close", (code) => resolve(code ?? 1));
  }).finally(() => fs.closeSync(fd));
}

export const initHandler: Handler = {
  async create(inputs) {
    const res = await runInit(inputs as unknown as Parameters<typeof runInit>[0]);
    return {
      id: `${inputs.stateDir as string}/initialized`,
      outs: { ...inputs, initializedAt: res.at, skipped: res.skipped },
    };
  },
  // Init runs once per env: later changes to the steps are recorded, not re-run.
  diff(_id, olds, news) {
    const changed = changedKeys(olds, news, ["steps", "stateDir", "worktree", "envFile"]);
    return Promise.resolve({ changes: changed.length > 0, replaces: [] });
  },
  update(_id, olds, news) {
    return Promise.resolve({
      outs: { ...news, initializedAt: olds.initializedAt, skipped: olds.skipped },
    });
  },
  // The marker outlives cool/stop; destroy removes the env's state directory with it.
  delete: () => Promise.resolve(),
};
