/**
 * The warm bench's baseline: an env's services started the way a developer would script it
 * without envctl. Containers with plain `docker run -d`, daemons with `sh -c CMD` in a new
 * session (setsid), each one started once everything it depends on is healthy (independent
 * services in parallel, as envctl does), health polled by hand at the spec's interval: TCP
 * connect, HTTP GET, or `docker exec` of the command check. The probes are lib/runtime/probes', so a
 * Docker proxy that accepts a connection before the container listens is not taken for health.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { topoOrder } from "../lib/core/graph";
import { probeHttp, probeTcp, sleep } from "../lib/runtime/probes";
import { probedPort } from "../lib/runtime/probes";
import type { ResolvedContainer, ResolvedProcess, ResolvedService } from "../lib/spec/model";
import { run } from "./support";

/** Label every baseline container carries (value: the run's tag), so teardown finds them all. */
export const BENCH_LABEL = "envctl.bench";

/** How long any one service may take to become healthy before the baseline gives up. */
const HEALTH_DEADLINE_MS = 60_000;

export interface ByHand {
  /** Checkout the daemons run in (`dir` is relative to it). */
  cwd: string;
  /** Container names are `<tag>-<service>`; the containers carry `envctl.bench=<tag>`. */
  tag: string;
  /** Daemon logs go here, one `<service>.log` each. */
  logDir: string;
  /** Process groups of the daemons started so far: what `stopByHand` kills. */
  groups: Set<number>;
}

/**
 * Starts every service and resolves once all are healthy, with each one's ms from its start
 * (its upstream healthy) to healthy. Waits for every start it began even when one fails, so a
 * teardown right after never races a start still under way.
 */
export async function startByHand(
  services: ResolvedService[],
  h: ByHand,
): Promise<Map<string, number>> {
  const order = topoOrder(services.map((s) => ({ name: s.name, dependsOn: s.dependsOn })));
  if (!order.ok) throw new Error(`dependency cycle: ${order.cycle.join(" -> ")}`);
  const byName = new Map(services.map((s) => [s.name, s]));
  const healthy = new Map<string, Promise<void>>();
  const took = new Map<string, number>();
  for (const name of order.order) {
    const svc = byName.get(name)!;
    const upstream = svc.dependsOn.map((d) => healthy.get(d)!);
    healthy.set(
      name,
      Promise.all(upstream).then(async () => {
        const start = Date.now();
        await (svc.type === "container" ? startContainer(svc, h) : startDaemon(svc, h));
        took.set(name, Date.now() - start);
      }),
    );
  }
  const settled = await Promise.allSettled(healthy.values());
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
  return took;
}

/** Removes the tag's containers and kills the daemons' process groups (TERM, then KILL). */
export async function stopByHand(h: ByHand): Promise<void> {
  const ps = await run({
    label: "docker ps",
    file: "docker",
    args: ["ps", "-aq", "--filter", `label=${BENCH_LABEL}=${h.tag}`],
    cwd: h.cwd,
    env: process.env,
  });
  const ids = ps.stdout.split("\n").filter(Boolean);
  if (ids.length > 0) {
    await run({
      label: "docker rm -f",
      file: "docker",
      args: ["rm", "-f", ...ids],
      cwd: h.cwd,
      env: process.env,
    });
  }
  for (const pgid of h.groups) {
    signal(pgid, "SIGTERM");
    if (!(await groupGone(pgid, 3_000))) {
      signal(pgid, "SIGKILL");
      if (!(await groupGone(pgid, 3_000)))
        throw new Error(`process group ${pgid} survived SIGKILL`);
    }
    h.groups.delete(pgid);
  }
}

async function startContainer(svc: ResolvedContainer, h: ByHand): Promise<void> {
  // Only what the bench fixtures use; anything else would make the baseline do less than envctl.
  if (!svc.image || svc.build || svc.entrypoint || svc.volumes.length > 0 || svc.ulimits) {
    throw new Error(`${svc.name}: the baseline runs image + command + ports + env only`);
  }
  const name = `${h.tag}-${svc.name}`;
  await run({
    label: `docker run ${name}`,
    file: "docker",
    args: [
      "run",
      "-d",
      "--name",
      name,
      "--label",
      `${BENCH_LABEL}=${h.tag}`,
      ...svc.ports.flatMap((p) => ["-p", `${p.host}:${p.container}/${p.protocol}`]),
      ...Object.entries(svc.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
      svc.image,
      ...(svc.command ?? []),
    ],
    cwd: h.cwd,
    env: process.env,
  });
  const check = svc.health;
  if (check?.kind === "command") {
    const exec = ["exec", name, "sh", "-c", check.command ?? "true"];
    const ok = (): Promise<boolean> =>
      run({ label: "docker exec", file: "docker", args: exec, cwd: h.cwd, env: process.env }).then(
        () => true,
        () => false,
      );
    await pollUntil(ok, check.intervalMs, svc.name);
  } else if (check) {
    await pollUntil(() => probe(svc), check.intervalMs, svc.name);
  }
}

async function startDaemon(svc: ResolvedProcess, h: ByHand): Promise<void> {
  const logFile = path.join(h.logDir, `${svc.name}.log`);
  const fd = fs.openSync(logFile, "a");
  let exited = false;
  try {
    const child = spawn("/bin/sh", ["-c", svc.cmd], {
      cwd: path.join(h.cwd, svc.dir),
      env: { ...process.env, ...svc.env },
      detached: true, // setsid: its own session and process group, like a daemon
      stdio: ["ignore", fd, fd],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    h.groups.add(child.pid!);
    child.once("exit", () => (exited = true));
    child.unref();
  } finally {
    fs.closeSync(fd);
  }
  if (!svc.health) return;
  await pollUntil(
    async () => {
      if (exited) throw new Error(`${svc.name} exited:\n${fs.readFileSync(logFile, "utf8")}`);
      return probe(svc);
    },
    svc.health.intervalMs,
    svc.name,
  );
}

/** One http/tcp probe of the service's published port from the host. */
async function probe(svc: ResolvedService): Promise<boolean> {
  const check = svc.health!;
  const port = probedPort(check, svc.ports);
  if (port === undefined) throw new Error(`${svc.name}: no published port to probe`);
  if (check.kind === "tcp") return probeTcp("127.0.0.1", port, check.timeoutMs);
  const url = `http://127.0.0.1:${port}${check.path ?? "/"}`;
  return (await probeHttp(url, check.timeoutMs)).ok;
}

async function pollUntil(
  check: () => Promise<boolean>,
  intervalMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + HEALTH_DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`${what} was not healthy after ${HEALTH_DEADLINE_MS / 1000}s`);
    await sleep(intervalMs);
  }
}

function signal(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

async function groupGone(pgid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return true;
    }
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}
