/**
 * The a3s parts, each against its baseline in the same run:
 *
 * - the `*.localhost` proxy: requests/s (2 threads, 32 connections) and p50/p99 latency (one
 *   connection, so the figure is the proxy's and not a queue's) of a small HTTP service
 *   through the proxy (Host header `api.<env>.localhost`) vs straight to its port, with
 *   Debian's wrk on loopback, 10 s each; the target is a p50 overhead under 1 ms. The table's
 *   row is the time 100,000 requests take at the measured rate.
 * - restart: from a `kill -9` of the service to healthy again under the supervisor (its
 *   backoff of 1 s included, and shown apart) vs the service's own start: the same command
 *   started by hand until its health endpoint answers.
 *
 *   npm run bench:a3s -- --rounds 3
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { makeRepo, tempHome } from "../test/support/env";
import {
  benchEnv,
  destroyEnv,
  ENVCTL,
  log,
  median,
  result,
  run,
  runAloneWithRounds,
  withCleanup,
  type BenchResult,
} from "./support";

const SERVER = `const http = require("http");
http.createServer((q, r) => { r.end(q.url === "/health" ? "ok" : "hello"); })
  .listen(Number(process.env.PORT), "127.0.0.1");
`;

interface Wrk {
  rps: number;
  p50us: number;
  p99us: number;
}

function wrkPath(): string {
  try {
    return execFileSync("sh", ["-c", "command -v wrk"], { encoding: "utf8" }).trim();
  } catch {
    log("installing Debian's wrk");
    execFileSync("apt-get", ["install", "-y", "-qq", "wrk"], { stdio: "ignore" });
    return "wrk";
  }
}

/** `wrk --latency` output -> requests/s and the p50/p99 latencies in microseconds. */
export function parseWrk(out: string): Wrk {
  const unit = (v: string, u: string): number =>
    Number(v) * ({ us: 1, ms: 1000, s: 1_000_000 }[u] ?? NaN);
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(out);
    if (!m) throw new Error(`no ${p}% latency in wrk's output:\n${out}`);
    return unit(m[1]!, m[2]!);
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`no Requests/sec in wrk's output:\n${out}`);
  return { rps: Number(rps[1]), p50us: pct("50"), p99us: pct("99") };
}

function wrk(bin: string, url: string, host: string | undefined, connections: number): Wrk {
  const threads = connections > 1 ? "-t2" : "-t1";
  const args = [
    threads,
    `-c${connections}`,
    "-d10s",
    "--latency",
    ...(host ? ["-H", `Host: ${host}`] : []),
    url,
  ];
  return parseWrk(execFileSync(bin, args, { encoding: "utf8" }));
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/health", agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.setTimeout(500, () => req.destroy());
  });
}

async function waitHealthy(port: number, from: number): Promise<number> {
  while (!(await healthy(port))) {
    if (Date.now() - from > 30_000) throw new Error(`port ${port} never became healthy`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - from;
}

async function bench({ rounds }: { rounds: number }): Promise<BenchResult[]> {
  const home = tempHome();
  const proxyPort = 7600 + Math.floor(Math.random() * 300);
  const repo = makeRepo({
    files: {
      "server.js": SERVER,
      "envctl.yaml": `dev: { proxy_port: ${proxyPort} }
services:
  api:
    cmd: node server.js
    ports: [{ port: 3000 }]
    subdomain: api
    restart: always
    health: { http: /health, interval: 1s, retries: 3 }
`,
    },
  });
  const env = benchEnv(home);
  const name = "ba3s";
  return withCleanup(
    "a3s",
    async () => {
      await run({ label: "up", file: ENVCTL, args: ["up", name, "--yes"], cwd: repo, env });
      const status = JSON.parse(
        (
          await run({
            label: "status",
            file: ENVCTL,
            args: ["status", name, "--json"],
            cwd: repo,
            env,
          })
        ).stdout,
      ) as { services: { ports: Record<string, number> }[] };
      const port = status.services[0]!.ports["3000"]!;
      const bin = wrkPath();
      // Throughput at 32 connections; latency at one (a saturated loopback measures queues).
      const direct: Wrk[] = [];
      const proxied: Wrk[] = [];
      const directLat: Wrk[] = [];
      const proxiedLat: Wrk[] = [];
      const host = `api.${name}.localhost`;
      for (let i = 0; i < rounds; i++) {
        log(`proxy round ${i + 1}/${rounds}`);
        direct.push(wrk(bin, `http://127.0.0.1:${port}/`, undefined, 32));
        proxied.push(wrk(bin, `http://127.0.0.1:${proxyPort}/`, host, 32));
        directLat.push(wrk(bin, `http://127.0.0.1:${port}/`, undefined, 1));
        proxiedLat.push(wrk(bin, `http://127.0.0.1:${proxyPort}/`, host, 1));
      }
      const per100k = (w: Wrk): number => (100_000 / w.rps) * 1000;
      const p50 = median(proxiedLat.map((w) => w.p50us)) - median(directLat.map((w) => w.p50us));
      const proxyResult = result(
        "proxy: 100k requests (wrk -t2 -c32)",
        { label: "through the *.localhost proxy", times: proxied.map(per100k) },
        { label: "straight to the port", times: direct.map(per100k) },
        {
          extra: {
            proxy_rps: Math.round(median(proxied.map((w) => w.rps))),
            direct_rps: Math.round(median(direct.map((w) => w.rps))),
            proxy_p50_us: Math.round(median(proxiedLat.map((w) => w.p50us))),
            direct_p50_us: Math.round(median(directLat.map((w) => w.p50us))),
            proxy_p99_us: Math.round(median(proxiedLat.map((w) => w.p99us))),
            direct_p99_us: Math.round(median(directLat.map((w) => w.p99us))),
            proxy_c32_p50_us: Math.round(median(proxied.map((w) => w.p50us))),
            direct_c32_p50_us: Math.round(median(direct.map((w) => w.p50us))),
            p50_overhead_us: Math.round(p50),
          },
          notes: [
            `requests/s: ${Math.round(median(proxied.map((w) => w.rps)))} through the proxy, ${Math.round(median(direct.map((w) => w.rps)))} direct`,
            `one connection: p50 ${Math.round(median(proxiedLat.map((w) => w.p50us)))} us vs ${Math.round(median(directLat.map((w) => w.p50us)))} us (overhead ${Math.round(p50)} us; target < 1000 us), p99 ${Math.round(median(proxiedLat.map((w) => w.p99us)))} us vs ${Math.round(median(directLat.map((w) => w.p99us)))} us`,
            `32 connections (saturated, two cores shared by wrk, the proxy and the service): p50 ${Math.round(median(proxied.map((w) => w.p50us)))} us vs ${Math.round(median(direct.map((w) => w.p50us)))} us`,
          ],
        },
      );

      // Restart: kill -9, then until healthy again (the supervisor's 1 s backoff included).
      const pidFile = path.join(home.root, "envs", name, "api.pid");
      const restarts: number[] = [];
      for (let i = 0; i < rounds; i++) {
        log(`restart round ${i + 1}/${rounds}`);
        const pid = (JSON.parse(fs.readFileSync(pidFile, "utf8")) as { pid: number }).pid;
        const from = Date.now();
        process.kill(pid, "SIGKILL");
        // Down first (the port closes), then healthy again.
        while (await healthy(port)) await new Promise((r) => setTimeout(r, 2));
        restarts.push(await waitHealthy(port, from));
        // Past the reset: each round starts at the first backoff step again.
        await new Promise((r) => setTimeout(r, 61_000));
      }
      // The service's own start: the same command, by hand, until it answers.
      const own: number[] = [];
      const handPort = port + 500;
      for (let i = 0; i < rounds; i++) {
        const from = Date.now();
        const child = spawn(process.execPath, ["server.js"], {
          cwd: repo,
          env: { ...process.env, PORT: String(handPort) },
          stdio: "ignore",
        });
        own.push(await waitHealthy(handPort, from));
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
      }
      const restartResult = result(
        "restart: kill -9 to healthy",
        { label: "supervisor (backoff 1 s + health-gated start)", times: restarts },
        { label: "the service's own start by hand", times: own },
        {
          extra: {
            backoff_ms: 1000,
            restart_minus_backoff_ms: Math.round(median(restarts) - 1000),
          },
          notes: [
            `without the 1 s backoff the supervisor's restart takes ${Math.round(median(restarts) - 1000)} ms against the service's own ${Math.round(median(own))} ms start`,
          ],
        },
      );
      return [proxyResult, restartResult];
    },
    async () => {
      await destroyEnv(home, name, repo);
      fs.rmSync(repo, { recursive: true, force: true });
    },
  );
}

if (require.main === module) runAloneWithRounds(bench);
