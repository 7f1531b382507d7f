/**
 * The fault harness at any size: `npm run faults -- [--cycles N] [--kills N] [--seed S]
 * [--no-docker-restart]` (after `npm run build`: `node dist/bench/faults.js ...`). Prints counts,
 * never timings:
 *   cycles          N up/destroy cycles, every leak counter after each destroy
 *   kill -9         N kills of envctl's whole process group at random points of up, warm and
 *                   destroy; each followed by the same plain verb, which must heal and finish
 *   pairs           two verbs at once on one env, in both orders: one wins, the other is busy
 *   docker restart  dockerd restarted under a warm env; one `warm` brings everything back
 * Exit 1 when any figure is not what it must be (a leak, an unhealed kill, a lost race).
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import { resolveHome } from "../lib/core/home";
import { envctl, said, type Run } from "../test/support/cli";
import { makeRepo, PONG_CONTAINER, tempDir } from "../test/support/env";
import {
  describeLeaks,
  engineSettled,
  LEAK_KINDS,
  leakCount,
  leaks,
  start,
  type Leaks,
} from "../test/support/faults";
import { reserveLowBlocks } from "./support";

const SPEC = [
  "base: HEAD",
  "services:",
  "  a:",
  "    image: debian:bookworm",
  '    command: ["sh", "-c", "sleep 2; touch /tmp/ok; exec sleep infinity"]',
  '    health: { command: "test -f /tmp/ok", interval: 250ms, retries: 200 }',
  "  b:",
  PONG_CONTAINER,
  "    depends_on: [a]",
  "  c:",
  "    build: ./img",
  '    command: ["sleep", "infinity"]',
  "  p:",
  '    cmd: "exec sleep 1000"',
  "  q:",
  '    cmd: "exec sleep 1000"',
  "    cold: true",
  "",
].join("\n");
const DOCKERFILE = "FROM debian:bookworm\nRUN echo built > /built\n";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** mulberry32: the kill points repeat for a given --seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function log(line: string): void {
  process.stderr.write(`[faults] ${line}\n`);
}

const home = tempDir("faults-home");
// Its envs take blocks 10+ (ports 20000+), clear of the low blocks tests and other homes use.
reserveLowBlocks(resolveHome({ ENVCTL_HOME: home }));
const repo = makeRepo({ files: { "envctl.yaml": SPEC, "img/Dockerfile": DOCKERFILE } });
const cli = (...args: string[]): Promise<Run> => envctl(args, { home, cwd: repo });
const problems: string[] = [];
const total = Object.fromEntries(LEAK_KINDS.map((k) => [k, 0])) as Record<keyof Leaks, number>;

function countLeaks(names: string[], where: string): number {
  const l = leaks(home, repo, names);
  for (const k of LEAK_KINDS) total[k] += l[k].length;
  const n = leakCount(l);
  if (n > 0) problems.push(`${where}: ${describeLeaks(l)}`);
  return n;
}

async function must(r: Promise<Run>, what: string): Promise<Run> {
  const res = await r;
  if (res.code !== 0) problems.push(`${what} failed: ${said(res).slice(0, 600)}`);
  return res;
}

async function timed(args: string[]): Promise<number> {
  const t = Date.now();
  await must(cli(...args), args.join(" "));
  return Date.now() - t;
}

async function cycles(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const name = `cy${i}`;
    await must(cli("up", name, "--yes"), `cycle ${i} up`);
    await must(cli("destroy", name, "--yes"), `cycle ${i} destroy`);
    countLeaks([name], `cycle ${i}`);
    log(`cycle ${i + 1}/${n}`);
  }
}

interface KillFigures {
  kills: number;
  healed: number;
  unrecoverable: number;
  processesLeft: number;
  healLines: number;
}

async function kills(n: number, rand: () => number): Promise<Record<string, KillFigures>> {
  const name = "kl";
  // How long each verb runs here, so kill points fall inside it.
  const upMs = await timed(["up", name, "--yes"]);
  await must(cli("cool", name), "cool");
  const warmMs = await timed(["warm", name]);
  const destroyMs = await timed(["destroy", name, "--yes"]);
  const figures: Record<string, KillFigures> = {};
  const verbs: { verb: string; args: string[]; ms: number; before: () => Promise<unknown> }[] = [
    { verb: "up", args: ["up", name, "--yes"], ms: upMs, before: () => Promise.resolve() },
    {
      verb: "warm",
      args: ["warm", name],
      ms: warmMs,
      before: async () => {
        await must(cli("up", name, "--yes"), "up before warm");
        await must(cli("cool", name), "cool before warm");
      },
    },
    {
      verb: "destroy",
      args: ["destroy", name, "--yes"],
      ms: destroyMs,
      before: () => must(cli("up", name, "--yes"), "up before destroy"),
    },
  ];
  for (const v of verbs) {
    const f: KillFigures = {
      kills: 0,
      healed: 0,
      unrecoverable: 0,
      processesLeft: 0,
      healLines: 0,
    };
    figures[v.verb] = f;
    for (let i = 0; i < n; i++) {
      await v.before();
      const at = Math.round(300 + rand() * v.ms);
      const p = start(v.args, { home, cwd: repo });
      await new Promise((r) => setTimeout(r, at));
      p.killGroup();
      await p.done;
      f.kills += 1;
      const left = await engineSettled(home, 5_000);
      f.processesLeft += left.length;
      if (left.length) problems.push(`${v.verb} killed at ${at} ms: left ${left.join("; ")}`);
      const again = await cli(...v.args);
      if (/died mid-operation/.test(again.stderr)) f.healLines += 1;
      // A kill that lands after destroy finished its work leaves nothing: the env is gone.
      const wasDone =
        v.verb === "destroy" && again.code === 2 && /does not exist/.test(again.stderr);
      if (again.code === 0 || wasDone) f.healed += 1;
      else {
        const rec = await cli("recover", name);
        const retry = await cli(...v.args);
        f.unrecoverable += rec.code === 0 && retry.code === 0 ? 0 : 1;
        problems.push(
          `${v.verb} killed at ${at} ms: the next ${v.verb} failed: ${said(again).slice(0, 600)}`,
        );
      }
      log(`kill ${v.verb} ${i + 1}/${n} at ${at} ms: next ${v.verb} exit ${again.code}`);
    }
  }
  await cli("destroy", name, "--yes");
  countLeaks([name], "after the kills");
  return figures;
}

interface PairFigures {
  runs: number;
  oneWon: number;
  busy: number;
  internalErrors: number;
  destroysUndone: number;
  disagreements: number;
}

async function exists(name: string): Promise<{ catalog: boolean; stack: boolean }> {
  const list = JSON.parse((await cli("list", "--json")).stdout || "{}") as {
    envs?: { name: string }[];
  };
  const stacks = `${home}/state/.pulumi/stacks`;
  const files = fs.existsSync(stacks)
    ? fs.readdirSync(stacks, { recursive: true, encoding: "utf8" })
    : [];
  const stack = files.some((f) => new RegExp(`(^|/)envctl/${name}\\.json$`).test(f));
  return { catalog: (list.envs ?? []).some((e) => e.name === name), stack };
}

async function pairs(): Promise<PairFigures> {
  const name = "pr";
  const f: PairFigures = {
    runs: 0,
    oneWon: 0,
    busy: 0,
    internalErrors: 0,
    destroysUndone: 0,
    disagreements: 0,
  };
  const PAIRS: [string[], string[]][] = [
    [
      ["warm", name],
      ["destroy", name, "--yes"],
    ],
    [
      ["destroy", name, "--yes"],
      ["warm", name],
    ],
    [
      ["up", name, "--yes"],
      ["up", name, "--yes"],
    ],
    [
      ["warm", name],
      ["cool", name],
    ],
    [
      ["destroy", name, "--yes"],
      ["destroy", name, "--yes"],
    ],
    [
      ["up", name, "--yes"],
      ["destroy", name, "--yes"],
    ],
  ];
  for (const [a, b] of PAIRS) {
    for (const gap of [0, 400]) {
      await must(cli("up", name, "--yes"), "up before a pair");
      if (a[0] === "warm") await must(cli("cool", name), "cool before a pair");
      const first = start(a, { home, cwd: repo });
      await new Promise((r) => setTimeout(r, gap));
      const second = start(b, { home, cwd: repo });
      const [ra, rb] = await Promise.all([first.done, second.done]);
      f.runs += 1;
      const both = [ra, rb];
      if (both.some((r) => /internal error|^\s+at /m.test(r.stderr))) f.internalErrors += 1;
      const busy = both.filter((r) => r.code === 1 && /is busy/.test(r.stderr)).length;
      f.busy += busy;
      // The winner may also refuse on the env's own terms, as it would alone: a second destroy
      // finds nothing, a cool that ran first finds the env already cold.
      const decided = both.filter(
        (r) => r.code === 0 || (r.code === 2 && /does not exist|is already/.test(r.stderr)),
      ).length;
      if (decided >= 1 && decided + busy === 2) f.oneWon += 1;
      else
        problems.push(
          `pair ${a.join(" ")} | ${b.join(" ")} (gap ${gap}): ${said(ra).slice(0, 300)} ${said(rb).slice(0, 300)}`,
        );
      const state = await exists(name);
      if (state.catalog !== state.stack) f.disagreements += 1;
      // After a destroy that succeeded, only an up that succeeded may bring the env back.
      const destroyed = [a, b].some((args, i) => args[0] === "destroy" && both[i]!.code === 0);
      const upOk = [a, b].some((args, i) => args[0] === "up" && both[i]!.code === 0);
      if (destroyed && !upOk && (state.catalog || state.stack)) f.destroysUndone += 1;
      log(`pair ${a[0]} | ${b[0]} gap ${gap}: exits ${ra.code} ${rb.code}`);
    }
  }
  await cli("destroy", name, "--yes");
  countLeaks([name], "after the pairs");
  return f;
}

async function dockerRestart(): Promise<{ restarts: number; recovered: number }> {
  const name = "dr";
  await must(cli("up", name, "--yes"), "up before docker restart");
  const pid = Number(execFileSync("pidof", ["dockerd"], { encoding: "utf8" }).trim().split(" ")[0]);
  process.kill(pid, "SIGTERM");
  while (fs.existsSync(`/proc/${pid}`)) await new Promise((r) => setTimeout(r, 200));
  const out = fs.openSync("/var/log/envctl-dockerd.log", "a");
  spawn("dockerd", [], { detached: true, stdio: ["ignore", out, out] }).unref();
  for (let i = 0; i < 300; i++) {
    try {
      execFileSync("docker", ["info"], { stdio: "ignore" });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const status = await cli("status", name);
  const warm = await cli("warm", name);
  const after = await cli("status", name);
  log(
    `docker restart: status exit ${status.code} before warm, warm exit ${warm.code}, status exit ${after.code}`,
  );
  const recovered = warm.code === 0 && after.code === 0 ? 1 : 0;
  if (!recovered)
    problems.push(`docker restart: ${said(warm).slice(0, 400)} ${said(after).slice(0, 400)}`);
  await must(cli("destroy", name, "--yes"), "destroy after docker restart");
  countLeaks([name], "after the docker restart");
  return { restarts: 1, recovered };
}

async function main(): Promise<number> {
  const n = flag("cycles", 10);
  const k = flag("kills", 5);
  const rand = random(flag("seed", 1));
  log(`home ${home}, repo ${repo}`);
  await cycles(n);
  const killFigures = await kills(k, rand);
  const pairFigures = await pairs();
  const docker = process.argv.includes("--no-docker-restart") ? undefined : await dockerRestart();

  const out: string[] = [];
  out.push(`cycles: ${n} up/destroy, leaks after each destroy:`);
  out.push("  " + LEAK_KINDS.map((kind) => `${kind} ${total[kind]}`).join(", "));
  out.push(`kill -9 of the process group (${k} per verb, random points):`);
  for (const [verb, f] of Object.entries(killFigures)) {
    out.push(
      `  ${verb.padEnd(8)} kills ${f.kills}, healed by the next ${verb} ${f.healed}, said so ${f.healLines}, unrecoverable ${f.unrecoverable}, engine processes left ${f.processesLeft}`,
    );
  }
  out.push(
    `pairs: ${pairFigures.runs} runs, one won ${pairFigures.oneWon}, busy ${pairFigures.busy}, internal errors ${pairFigures.internalErrors}, destroys undone ${pairFigures.destroysUndone}, catalog/stack disagreements ${pairFigures.disagreements}`,
  );
  if (docker)
    out.push(
      `docker restart under a warm env: ${docker.restarts}, recovered by one warm ${docker.recovered}`,
    );
  out.push(`problems: ${problems.length}`);
  process.stdout.write(out.join("\n") + "\n");
  process.stdout.write(
    JSON.stringify({
      cycles: n,
      leaks: total,
      kills: killFigures,
      pairs: pairFigures,
      docker,
      problems: problems.length,
    }) + "\n",
  );
  for (const p of problems) process.stderr.write(`problem: ${p}\n`);
  if (problems.length === 0) {
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(repo, { recursive: true, force: true });
  } else {
    log(`kept ${home} and ${repo} for a look`);
  }
  return problems.length === 0 ? 0 : 1;
}

void main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
