/**
 * One compose project (bench/fixtures/compose: four services gated on Docker health checks,
 * images built before timing) brought up and torn down by Docker Compose and by envctl in the
 * same run: `docker compose up -d --wait` vs `envctl warm NAME` from cold, `docker compose down`
 * vs `envctl cool NAME`. The env is made once with `envctl up NAME -f compose.yml --yes` and
 * cooled. Every timed command is followed on Docker's event stream, so the notes say where each
 * side's time goes (before the first container starts, the services, after the last is healthy),
 * and a profile (one traced `pulumi up` each way, bench/compose-profile.ts) splits envctl's part
 * before the first container among the CLI, the engine, the program and the provider.
 * Run alone: `node dist/bench/compose.js [--rounds N] [--no-profile]`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { docker } from "../lib/docker/client";
import { LABEL_ENV, LABEL_SERVICE, networkName } from "../lib/core/names";
import { busyPorts } from "../lib/runtime/probes";
import { makeRepo, tempHome } from "../test/support/env";
import { profileEngine } from "./compose-profile";
import {
  benchEnv,
  catalogEnvNames,
  destroyEnv,
  ENVCTL,
  log,
  median,
  reserveLowBlocks,
  result,
  ROOT,
  run,
  runAlone,
  timeSides,
  withCleanup,
  type BenchResult,
  type Cmd,
  type RunOutput,
  type Side,
} from "./support";
import {
  containersOf,
  downParts,
  expectGone,
  expectHealthy,
  perService,
  recorded,
  sec,
  upParts,
  type DownParts,
  type EventScope,
  type UpParts,
} from "./timeline";

const FIXTURE = path.join(ROOT, "bench", "fixtures", "compose");
/** Fixed names, unlike other benches: a leftover is easy to find, and refused at the start. */
export const ENV_NAME = "bcmp";
export const PROJECT = "bcmp-compose";
/** The images compose.yml runs, by build target of image/Dockerfile. */
const IMAGES = { tcp: "bcmp-bench-tcp:latest", http: "bcmp-bench-http:latest" };

const COMPOSE_LABEL = "com.docker.compose.project";
export const COMPOSE_SCOPE: EventScope = {
  serviceLabel: "com.docker.compose.service",
  label: [COMPOSE_LABEL, PROJECT],
  network: `${PROJECT}_default`,
};
export const ENVCTL_SCOPE: EventScope = {
  serviceLabel: LABEL_SERVICE,
  label: [LABEL_ENV, ENV_NAME],
  network: networkName(ENV_NAME),
};

export interface ComposeBenchOptions {
  /** Timed rounds per side (each an up and a down). @default 5 */
  rounds?: number;
  /** Trace one envctl warm and cool through the engine afterwards. @default true */
  profile?: boolean;
}

/** One side's figures over the timed rounds. */
interface Figures {
  up: number[];
  down: number[];
  upParts: UpParts[];
  downParts: DownParts[];
  /** envctl only: ms until its `warming env`/`cooling env` line, just before pulumi starts. */
  preEngineUp: number[];
  preEngineDown: number[];
}
const figures = (): Figures => ({
  up: [],
  down: [],
  upParts: [],
  downParts: [],
  preEngineUp: [],
  preEngineDown: [],
});

/** Each compose service's depends_on, from the fixture (the same graph both sides run). */
export function composeDeps(file: string): Record<string, string[]> {
  const doc = YAML.parse(fs.readFileSync(file, "utf8")) as {
    services: Record<string, { depends_on?: Record<string, unknown> | string[] }>;
  };
  return Object.fromEntries(
    Object.entries(doc.services).map(([name, s]) => [
      name,
      Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {}),
    ]),
  );
}

/** Host ports compose.yml publishes (`"29432:5432"`). */
function composePorts(file: string): number[] {
  const doc = YAML.parse(fs.readFileSync(file, "utf8")) as {
    services: Record<string, { ports?: string[] }>;
  };
  return Object.values(doc.services).flatMap((s) =>
    (s.ports ?? []).map((p) => Number(p.split(":")[0])),
  );
}

/** When a progress line matching `re` arrived (ms since the command started). */
function lineAt(out: RunOutput, re: RegExp, what: string): number {
  const line = out.stderrLines.find((l) => re.test(l.text));
  if (!line) throw new Error(`${what}: no line matching ${String(re)} in:\n${out.stderr}`);
  return line.ms;
}

export async function composeBench(opts: ComposeBenchOptions = {}): Promise<BenchResult[]> {
  const rounds = opts.rounds ?? 5;
  const home = tempHome();
  const env = benchEnv(home);
  const repo = makeRepo({ copyFrom: FIXTURE });
  const specFile = path.join(repo, "compose.yml");
  const deps = composeDeps(specFile);
  const services = Object.keys(deps).length;
  const built: string[] = [];
  let composeUsed = false;
  const compose = (...args: string[]): Cmd => ({
    label: `docker compose ${args[0]}`,
    file: "docker",
    args: ["compose", "-p", PROJECT, "-f", specFile, ...args],
    cwd: repo,
    env,
  });
  const envctl = (verb: string, ...args: string[]): Cmd => ({
    label: `envctl ${verb}`,
    file: ENVCTL,
    args: [verb, ...args],
    cwd: repo,
    env,
  });

  const measure = async (): Promise<BenchResult[]> => {
    await refuseLeftovers(composePorts(specFile));
    for (const [target, tag] of Object.entries(IMAGES)) {
      log(`compose: building ${tag} (image/Dockerfile, target ${target})`);
      built.push(tag);
      await run({
        label: `docker build ${tag}`,
        file: "docker",
        args: ["build", "-q", "--target", target, "-t", tag, path.join(repo, "image")],
        cwd: repo,
        env,
      });
    }
    reserveLowBlocks(home);
    log(`compose: creating env ${ENV_NAME} from compose.yml in ${home.root}, then cooling it`);
    await run(envctl("up", ENV_NAME, "-f", "compose.yml", "--yes"));
    await expectHealthy(ENVCTL_SCOPE, services, "envctl up");
    await run(envctl("cool", ENV_NAME));
    await expectGone(ENVCTL_SCOPE, "envctl cool");

    const e = figures();
    const c = figures();
    const envctlSide: Side = {
      label: "envctl warm",
      once: async (_n, warmup) => {
        const warm = await recorded(envctl("warm", ENV_NAME), ENVCTL_SCOPE);
        if (!/is warm \(\d+ create/.test(warm.out.stderr)) {
          throw new Error(`envctl warm did not start the services:\n${warm.out.stderr}`);
        }
        await expectHealthy(ENVCTL_SCOPE, services, "envctl warm");
        const cool = await recorded(envctl("cool", ENV_NAME), ENVCTL_SCOPE);
        if (!/is cold \(\d+ delete/.test(cool.out.stderr)) {
          throw new Error(`envctl cool did not stop the services:\n${cool.out.stderr}`);
        }
        await expectGone(ENVCTL_SCOPE, "envctl cool");
        if (!warmup) {
          e.up.push(warm.out.ms);
          e.down.push(cool.out.ms);
          e.upParts.push(upParts(warm.events, warm.t0, warm.out.ms, deps));
          e.downParts.push(downParts(cool.events, cool.t0, cool.out.ms));
          e.preEngineUp.push(lineAt(warm.out, /^warming env /, "envctl warm"));
          e.preEngineDown.push(lineAt(cool.out, /^cooling env /, "envctl cool"));
        }
        return warm.out.ms;
      },
    };
    const composeSide: Side = {
      label: "compose up --wait",
      once: async (_n, warmup) => {
        composeUsed = true;
        const up = await recorded(compose("up", "-d", "--wait"), COMPOSE_SCOPE);
        await expectHealthy(COMPOSE_SCOPE, services, "docker compose up");
        const down = await recorded(compose("down"), COMPOSE_SCOPE);
        await expectGone(COMPOSE_SCOPE, "docker compose down");
        if (!warmup) {
          c.up.push(up.out.ms);
          c.down.push(down.out.ms);
          c.upParts.push(upParts(up.events, up.t0, up.out.ms, deps));
          c.downParts.push(downParts(down.events, down.t0, down.out.ms));
        }
        return up.out.ms;
      },
    };

    log(`compose: timing ${rounds} rounds each of envctl warm/cool and compose up --wait/down`);
    await timeSides([envctlSide, composeSide], rounds);
    const notes = { up: upNotes(e, c, deps), down: downNotes(e, c) };
    if (opts.profile !== false) {
      log("compose: profiling one envctl warm and cool through the engine (--otel-traces)");
      const p = await profileEngine({ home, name: ENV_NAME, deps, services, scope: ENVCTL_SCOPE });
      notes.up.push(...p.up);
      notes.down.push(...p.down);
    }
    return [
      result(
        "compose-up",
        { label: "envctl warm NAME", times: e.up },
        { label: "docker compose up -d --wait", times: c.up },
        {
          notes: notes.up,
          extra: {
            envctl_before_ms: medianOf(e.upParts, "before"),
            compose_before_ms: medianOf(c.upParts, "before"),
            envctl_services_ms: medianOf(e.upParts, "services"),
            compose_services_ms: medianOf(c.upParts, "services"),
          },
        },
      ),
      result(
        "compose-down",
        { label: "envctl cool NAME", times: e.down },
        { label: "docker compose down", times: c.down },
        {
          notes: notes.down,
          extra: {
            envctl_before_ms: medianOf(e.downParts, "before"),
            compose_before_ms: medianOf(c.downParts, "before"),
          },
        },
      ),
    ];
  };

  const cleanup = async (): Promise<void> => {
    log(`compose: destroying env ${ENV_NAME}, compose project ${PROJECT}, the bench's images`);
    const failures: unknown[] = [];
    if (catalogEnvNames(home).includes(ENV_NAME)) {
      await destroyEnv(home, ENV_NAME, repo).catch((err: unknown) => failures.push(err));
    }
    if (composeUsed) {
      await run(compose("down", "-v", "--remove-orphans")).catch((err: unknown) =>
        failures.push(err),
      );
    }
    for (const tag of built) {
      await docker()
        .getImage(tag)
        .remove()
        .catch((err: { statusCode?: number }) => err.statusCode === 404 || failures.push(err));
    }
    if (failures.length > 0) throw failures[0];
    fs.rmSync(home.root, { recursive: true, force: true });
    fs.rmSync(repo, { recursive: true, force: true });
  };

  return withCleanup("compose", measure, cleanup);
}

/** Containers or ports of an earlier run are refused, not removed: they might not be ours. */
async function refuseLeftovers(ports: number[]): Promise<void> {
  const left = [
    ...(await containersOf(COMPOSE_SCOPE)).map((c) => c.name),
    ...(await containersOf(ENVCTL_SCOPE)).map((c) => c.name),
  ];
  const nets = (await docker().listNetworks()).map((n) => n.Name);
  left.push(...[COMPOSE_SCOPE.network, ENVCTL_SCOPE.network].filter((n) => nets.includes(n)));
  if (left.length > 0) {
    throw new Error(
      `left from an earlier run: ${left.join(", ")}; remove them (docker rm -f / docker network rm) and run again`,
    );
  }
  const busy = await busyPorts(ports);
  if (busy.length > 0) throw new Error(`compose.yml's host ports are taken: ${busy.join(", ")}`);
}

function upNotes(e: Figures, c: Figures, deps: Record<string, string[]>): string[] {
  const part = (f: Figures, k: "before" | "services" | "after"): string =>
    sec(f.upParts.map((p) => p[k]));
  const names = Object.keys(deps);
  const each = (f: Figures, k: "health" | "gate" | "createToStart", only = names): string =>
    only.map((s) => `${s} ${sec(perService(f.upParts, k, s))}`).join(", ");
  const gated = names.filter((s) => deps[s]!.length > 0);
  const chain = (f: Figures): string => {
    const seen = new Map<string, number>();
    for (const p of f.upParts) {
      const k = p.critical.join(" <- ");
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    return [...seen].map(([k, n]) => `${k} (${n}x)`).join(", ");
  };
  return [
    `${names.length} containers (${names.map((s) => (deps[s]!.length ? `${s} after ${deps[s]!.join("+")}` : s)).join(", ")}), Docker health checks, images prebuilt; envctl from cold (network, worktree, env.sh kept), compose from nothing (it makes its network too)`,
    `up in parts (medians, from Docker's events): before the first container starts: envctl ${part(e, "before")} (${sec(e.preEngineUp)} of it before pulumi starts), compose ${part(c, "before")}; first start to last healthy: envctl ${part(e, "services")}, compose ${part(c, "services")}; after the last healthy: envctl ${part(e, "after")}, compose ${part(c, "after")}`,
    `up, start to healthy (Docker's own checks): envctl ${each(e, "health")}; compose ${each(c, "health")}`,
    `up, last upstream healthy to start (how fast each side reacts): envctl ${each(e, "gate", gated)}; compose ${each(c, "gate", gated)}`,
    `up, container create to start: envctl ${each(e, "createToStart")}; compose ${each(c, "createToStart")} (compose creates all first, then starts each at its gate)`,
    `up, the chain that ended last: envctl ${chain(e)}; compose ${chain(c)}`,
  ];
}

function downNotes(e: Figures, c: Figures): string[] {
  const part = (f: Figures, k: keyof DownParts): string => sec(f.downParts.map((p) => p[k]));
  return [
    `in parts (medians, from Docker's events): before the first container is stopped: envctl ${part(e, "before")} (${sec(e.preEngineDown)} of it before pulumi starts), compose ${part(c, "before")}; first stop to last removed: envctl ${part(e, "removing")}, compose ${part(c, "removing")}; after: envctl ${part(e, "after")}, compose ${part(c, "after")} (compose removes its network here; envctl keeps it)`,
  ];
}

/** The rounded median of one part over runs, for the JSON line. */
function medianOf<T extends UpParts | DownParts>(runs: T[], key: keyof T & string): number {
  return Math.round(median(runs.map((r) => r[key] as number)));
}

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (require.main === module) {
  const rounds = Number(argValue("--rounds") ?? 5);
  if (!Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write("--rounds must be a whole number of at least 1\n");
    process.exitCode = 2;
  } else {
    runAlone(() => composeBench({ rounds, profile: !process.argv.includes("--no-profile") }));
  }
}
