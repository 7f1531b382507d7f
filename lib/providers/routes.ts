/**
 * The LocalRoutes resource: an env's `*.localhost` routes (lib/proxy). Create and update write
 * the env's file in `$ENVCTL_HOME/proxy/routes.d/` and start the home's proxy daemon when none
 * runs (the first env that needs it); delete removes the file and stops the daemon once no env
 * routes anything. The routes are the env's running services with a `subdomain`, so they
 * follow warm, cool and destroy.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeAtomic } from "../core/atomic";
import { changedKeys } from "../core/canonical";
import { shellQuote } from "../core/shell";
import { daemonStatus, startDaemon, stopDaemon, tailLog } from "../runtime/daemon";
import { busyPorts, probeTcp, sleep } from "../runtime/probes";
import { PROXY, proxyDir, readRoutes, routesDir, type EnvRoutes } from "../proxy/routes";
import type { Handler, Props } from "./types";

const LISTEN_MS = 5_000;

function routesFile(home: string, env: string): string {
  return path.join(routesDir(home), `${env}.json`);
}

function writeRoutes(home: string, r: EnvRoutes): void {
  writeAtomic(routesFile(home, r.env), `${JSON.stringify(r)}\n`);
}

/** The port the home's proxy listens on, starting it on `port` when none runs. */
export async function ensureProxy(home: string, port: number): Promise<number> {
  const dir = proxyDir(home);
  const portFile = path.join(dir, "port");
  if (daemonStatus(dir, PROXY).running) {
    let served = NaN;
    try {
      served = Number(fs.readFileSync(portFile, "utf8").trim());
    } catch {
      // being stopped by another env's delete: started again below
    }
    if (served === port) return served;
    if (Number.isInteger(served) && served > 0) {
      throw new Error(
        `the home's *.localhost proxy runs on port ${served} (another env's dev.proxy_port), not ${port}: one proxy serves every env of a home, so set dev.proxy_port to ${served} or leave it out`,
      );
    }
  }
  if ((await busyPorts([port])).length > 0) {
    throw new Error(
      `port ${port} is in use by another program, so the *.localhost proxy cannot listen there: free it, or set dev.proxy_port to another port (1024 or above)`,
    );
  }
  const script = path.join(__dirname, "..", "proxy", "main.js");
  await startDaemon({
    name: PROXY,
    dir,
    cwd: dir,
    cmd: `exec ${shellQuote(process.execPath)} ${shellQuote(script)} ${shellQuote(home)} ${port}`,
    env: {},
    plain: true,
  });
  fs.writeFileSync(portFile, `${port}\n`);
  const deadline = Date.now() + LISTEN_MS;
  for (;;) {
    if (await probeTcp("127.0.0.1", port, 500)) return port;
    if (!daemonStatus(dir, PROXY).running || Date.now() > deadline) {
      const tail = tailLog(path.join(dir, `${PROXY}.log`), 10).trimEnd();
      throw new Error(
        `the *.localhost proxy did not start on port ${port}${tail ? `\n${tail}` : ""}`,
      );
    }
    await sleep(50);
  }
}

async function apply(inputs: Props): Promise<Props> {
  const home = inputs.home as string;
  const r: EnvRoutes = {
    env: inputs.env as string,
    proxyPort: inputs.proxyPort as number,
    routes: inputs.routes as EnvRoutes["routes"],
  };
  writeRoutes(home, r);
  const served = await ensureProxy(home, r.proxyPort);
  return { ...inputs, servedPort: served };
}

export const localRoutes: Handler = {
  async create(inputs) {
    return {
      id: routesFile(inputs.home as string, inputs.env as string),
      outs: await apply(inputs),
    };
  },
  diff(_id, olds, news) {
    const changed = changedKeys(olds, news, ["home", "env", "proxyPort", "routes"]);
    // The file removed or the proxy gone (it exits when no env routes): written and started again.
    const home = olds.home as string;
    const gone =
      !fs.existsSync(routesFile(home, olds.env as string)) ||
      !daemonStatus(proxyDir(home), PROXY).running;
    return Promise.resolve({
      changes: changed.length > 0 || gone,
      replaces: changed.filter((k) => k === "home" || k === "env"),
      deleteBeforeReplace: true,
    });
  },
  async update(_id, _olds, news) {
    return { outs: await apply(news) };
  },
  async delete(_id, props) {
    const home = props.home as string;
    fs.rmSync(routesFile(home, props.env as string), { force: true });
    if (readRoutes(home).every((t) => t.routes.length === 0)) {
      await stopDaemon(proxyDir(home), PROXY);
      fs.rmSync(path.join(proxyDir(home), "port"), { force: true });
    }
  },
};
