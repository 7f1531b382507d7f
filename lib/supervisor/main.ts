/**
 * `node main.js <state dir>`: an env's supervisor, started detached by the Supervisor resource
 * (lib/providers/supervisor.ts) and stopped by it with SIGTERM. SIGHUP rereads the config. It
 * exits by itself once its config is gone (the env's state dir was removed).
 */
import * as fs from "node:fs";
import { configPath, readSupervisorConfig } from "./model";
import { Supervisor } from "./supervisor";

const stateDir = process.argv[2];
const config = stateDir ? readSupervisorConfig(stateDir) : undefined;
if (!stateDir || !config) {
  process.stderr.write(`envctl supervisor: no config in ${stateDir ?? "(no state dir given)"}\n`);
  process.exit(2);
}
const levels = ["trace", "debug", "info", "warn", "error"];
const quiet = levels.indexOf(config.logLevel) > levels.indexOf("info");
const supervisor = new Supervisor(config, {
  log: (line) => {
    if (!quiet) process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  },
});
supervisor.start();

process.on("SIGHUP", () => {
  const next = readSupervisorConfig(stateDir);
  if (next) supervisor.reload(next);
});
const exit = (): void => {
  void supervisor.stop().finally(() => process.exit(0));
};
process.on("SIGTERM", exit);
process.on("SIGINT", exit);
setInterval(() => {
  if (!fs.existsSync(configPath(stateDir))) exit();
}, 2000).unref();
