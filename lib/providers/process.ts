/**
 * Handlers for host-side resources: process services (daemons), env.sh, and first-warm init.
 * Their diffs look at reality too: a daemon that died, or an env.sh edited by hand, is a
 * change the next `up` (and `pulumi preview`) shows and repairs.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { writeAtomic } from "../core/atomic";
import { changedKeys } from "../core/canonical";
import { shellQuote } from "../core/shell";
import { userEnv } from "../core/toolchain";
import { daemonStatus, INIT_LOG, stopDaemon, tailLog } from "../runtime/daemon";
import {
  LOG_TAIL,
  runFilePath,
  startProcess,
  writeRunFile,
  type ProcessProps,
} from "../runtime/service";
import type { InitStep } from "../spec/model";
import type { Handler } from "./types";

type Props = Record<string, unknown>;

/**
 * Whether the daemon of `props` runs. Its pid may differ from the recorded one: the env's
 * supervisor restarts a crashed daemon from the same recipe (`<name>.run.json`).
 */
export function processRunning(props: Props): boolean {
  return daemonStatus(props.stateDir as string, props.name as string).running;
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
    const props = inputs as unknown as ProcessProps;
    writeRunFile(props);
    const outs = await startProcess(props);
    return { id: `${outs.stateDir}/${outs.name}`, outs: outs as unknown as Props };
  },
  diff(_id, olds, news) {
    const { replaces, updates } = processChanges(olds, news);
    // A daemon that died (or was killed by hand) is restarted by the next up.
    if (!processRunning(olds)) replaces.push("pid");
    keepRecipe(olds);
    return Promise.resolve({
      changes: replaces.length + updates.length > 0,
      replaces,
      deleteBeforeReplace: true,
    });
  },
  // Only `health` reaches here (processChanges): record it, keep the daemon and its pid.
  update(_id, olds, news) {
    const props = { ...news, pid: olds.pid } as unknown as ProcessProps;
    writeRunFile(props);
    return Promise.resolve({ outs: props as unknown as Props });
  },
  async delete(_id, props) {
    await stopDaemon(props.stateDir as string, props.name as string);
    fs.rmSync(runFilePath(props.stateDir as string, props.name as string), { force: true });
  },
  read(id, props) {
    keepRecipe(props);
    return Promise.resolve(processRunning(props) ? { id, props } : undefined);
  },
};

/**
 * A daemon started before its recipe was kept (an env made by an older envctl) gets it from
 * the recorded state: the recipe is a copy of what the daemon was started with, so writing it
 * changes nothing the env runs, and the diff stays empty (the stack previews unchanged).
 */
function keepRecipe(props: Props): void {
  const recipe = props as unknown as ProcessProps;
  if (fs.existsSync(runFilePath(recipe.stateDir, recipe.name))) return;
  if (!fs.existsSync(recipe.stateDir)) return;
  try {
    writeRunFile(recipe);
  } catch {
    // The recipe only serves restarts; `envctl restart` says how to get it back.
  }
}

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

const writeFile = writeAtomic;

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
