/**
 * The Supervisor resource: an env's supervisor process (lib/supervisor). Create writes its
 * config and starts it detached, as a daemon of the env (`.supervisor.pid`, `.supervisor.log`);
 * a change of what it supervises rewrites the config and signals it (SIGHUP), keeping its
 * counters; delete stops it before the services it watches are stopped (they are its
 * dependencies, so Pulumi deletes it first). A supervisor that died is a change the next `up`
 * (and `pulumi preview`) shows and repairs.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { canonicalJson, changedKeys } from "../core/canonical";
import { shellQuote } from "../core/shell";
import { daemonStatus, startDaemon, stopDaemon, tailLog } from "../runtime/daemon";
import { sleep } from "../runtime/probes";
import {
  configPath,
  readSupervisorState,
  statePath,
  SUPERVISOR,
  writeJson,
  type SupervisorConfig,
} from "../supervisor/model";
import type { Handler, Props } from "./types";

/** How long a supervisor may take to read its config and write its first state. */
const READY_MS = 10_000;
const CONFIG_KEYS = [
  "env",
  "stateDir",
  "catalogFile",
  "envFile",
  "services",
  "backoff",
  "logLevel",
];

export function supervisorConfig(inputs: Props): SupervisorConfig {
  const rest = Object.fromEntries(CONFIG_KEYS.map((k) => [k, inputs[k]]));
  const hash = createHash("sha256").update(canonicalJson(rest)).digest("hex").slice(0, 16);
  return { ...(rest as Omit<SupervisorConfig, "hash">), hash };
}

/** The supervisor's entry point, beside this module in dist (lib/supervisor/main.js). */
function mainScript(): string {
  return path.join(__dirname, "..", "supervisor", "main.js");
}

/** Waits until the supervisor's state file names the config just written. */
async function ready(stateDir: string, hash: string): Promise<number> {
  const deadline = Date.now() + READY_MS;
  for (;;) {
    const st = daemonStatus(stateDir, SUPERVISOR);
    const state = readSupervisorState(stateDir);
    if (st.running && state?.configHash === hash && state.pid === st.pid) return st.pid;
    if (!st.running || Date.now() > deadline) {
      const tail = tailLog(path.join(stateDir, `${SUPERVISOR}.log`), 10).trimEnd();
      throw new Error(
        `the env's supervisor ${st.running ? "did not start within 10s" : "exited at start"}${tail ? `\n--- last lines of ${SUPERVISOR}.log ---\n${tail}` : ""}`,
      );
    }
    await sleep(50);
  }
}

async function start(inputs: Props): Promise<Props> {
  const config = supervisorConfig(inputs);
  writeJson(configPath(config.stateDir), config);
  await startDaemon({
    name: SUPERVISOR,
    dir: config.stateDir,
    cwd: config.stateDir,
    cmd: `exec ${shellQuote(process.execPath)} ${shellQuote(mainScript())} ${shellQuote(config.stateDir)}`,
    env: {},
    plain: true, // node itself, its lines carry their times
  });
  try {
    const pid = await ready(config.stateDir, config.hash);
    return { ...inputs, pid, configHash: config.hash };
  } catch (err) {
    await stopDaemon(config.stateDir, SUPERVISOR).catch(() => undefined);
    throw err;
  }
}

export const supervisor: Handler = {
  async create(inputs) {
    const outs = await start(inputs);
    return { id: `${inputs.stateDir as string}/${SUPERVISOR}`, outs };
  },
  diff(_id, olds, news) {
    const changed = changedKeys(olds, news, CONFIG_KEYS);
    const replaces: string[] = changed.filter((k) => k === "stateDir");
    if (!daemonStatus(olds.stateDir as string, SUPERVISOR).running) replaces.push("pid");
    return Promise.resolve({
      changes: changed.length > 0 || replaces.length > 0,
      replaces,
      deleteBeforeReplace: true,
    });
  },
  async update(_id, _olds, news) {
    const config = supervisorConfig(news);
    writeJson(configPath(config.stateDir), config);
    const st = daemonStatus(config.stateDir, SUPERVISOR);
    if (!st.running) return { outs: await start(news) };
    process.kill(st.pid!, "SIGHUP");
    const pid = await ready(config.stateDir, config.hash);
    return { outs: { ...news, pid, configHash: config.hash } };
  },
  async delete(_id, props) {
    const stateDir = props.stateDir as string;
    await stopDaemon(stateDir, SUPERVISOR);
    fs.rmSync(configPath(stateDir), { force: true });
    fs.rmSync(statePath(stateDir), { force: true });
  },
  read(id, props) {
    const running = daemonStatus(props.stateDir as string, SUPERVISOR).running;
    return Promise.resolve(running ? { id, props } : undefined);
  },
};
