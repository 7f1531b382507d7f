/**
 * `envctl warm NAME` from cold until every service is healthy, vs the same services started by
 * hand (bench/by-hand.ts: `docker run -d`, `sh -c` in a new session, health polled by hand in
 * dependency order). The fixture (bench/fixtures/warm) has three containers and two daemons;
 * the env is spawned once, then each envctl run is warm (timed) -> check -> cool (untimed), and
 * each baseline run is start + health (timed) -> teardown (untimed).
 * Run alone: `node dist/bench/warm.js`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Catalog } from "../lib/catalog/catalog";
import { busyPorts } from "../lib/runtime/probes";
import { blockBase, hostPorts, MAX_BLOCK } from "../lib/spec/ports";
import { resolveEnv } from "../lib/kinds/devenv/resolve";
import { formatIssue, loadSpecFile } from "../lib/spec/load";
import type { EnvSpec } from "../lib/spec/model";
import { makeRepo, tempDir, tempHome } from "../test/support/env";
import { startByHand, stopByHand, type ByHand } from "./by-hand";
import { createdDurations, medianSec, phases, type Phases } from "./progress";
import {
  benchEnv,
  catalogEnvNames,
  destroyEnv,
  ENVCTL,
  log,
  reserveLowBlocks,
  result,
  ROOT,
  run,
  runAlone,
  timeSides,
  withCleanup,
  type BenchResult,
  type Cmd,
  type Side,
} from "./support";

const FIXTURE = path.join(ROOT, "bench", "fixtures", "warm");

export interface WarmBenchOptions {
  /** Timed runs per side. @default 5 */
  runs?: number;
}

export async function warmBench(opts: WarmBenchOptions = {}): Promise<BenchResult[]> {
  const runs = opts.runs ?? 5;
  const home = tempHome();
  const env = benchEnv(home);
  const repo = makeRepo({ copyFrom: FIXTURE });
  const name = `bench-${process.pid}-warm`;
  const envctl = (verb: string, ...args: string[]): Cmd => ({
    label: `envctl ${verb}`,
    file: ENVCTL,
    args: [verb, ...args],
    cwd: repo,
    env,
  });
  const byHand: ByHand = {
    cwd: repo,
    tag: `bench-${process.pid}-byhand`,
    logDir: tempDir("byhand-logs"),
    groups: new Set(),
  };
  const measure = async (): Promise<BenchResult[]> => {
    reserveLowBlocks(home);
    const parsed = loadSpecFile(path.join(repo, "envctl.yaml"));
    if (!parsed.spec) throw new Error(`fixture: ${parsed.errors.map(formatIssue).join("; ")}`);
    const spec = parsed.spec;
    const containers = spec.services.filter((s) => s.type === "container").length;
    const daemons = spec.services.length - containers;

    log(
      `warm: spawning env ${name} (${containers} containers, ${daemons} daemons) in ${home.root}`,
    );
    await run(envctl("spawn", name, "-f", "envctl.yaml", "--no-open"));
    // The baseline gets its own port block, so both sides can hold their ports at once.
    const block = await baselineBlock(spec, leasedBlock(home.catalogFile, name));
    const services = resolveEnv(byHand.tag, spec, block, home, "warm").services;

    // For the notes, timed runs only: where envctl's time goes, and one service's start.
    const cools: number[] = [];
    const parts: Phases[] = [];
    const each = {
      envctl: { container: [] as number[], process: [] as number[] },
      byHand: { container: [] as number[], process: [] as number[] },
    };
    const envctlSide: Side = {
      label: "envctl warm",
      once: async (_run, warmup) => {
        const warm = await run(envctl("warm", name));
        // A warm that found the env already warm did nothing and would skew the comparison.
        if (!/is warm \(\d+ create/.test(warm.stderr)) {
          throw new Error(`envctl warm did not start the services:\n${warm.stderr}`);
        }
        if (!warmup) {
          const took = createdDurations(warm.stderr);
          each.envctl.container.push(...(took.get("Container") ?? []));
          each.envctl.process.push(...(took.get("Process") ?? []));
          const p = phases(warm);
          if (p) parts.push(p);
        }
        checkWarm((await run(envctl("list", "--json"))).stdout, name, spec);
        const cool = await run(envctl("cool", name));
        if (!warmup) cools.push(cool.ms);
        return warm.ms;
      },
    };
    const baselineSide: Side = {
      label: "by hand",
      once: async (_run, warmup) => {
        const start = process.hrtime.bigint();
        try {
          const took = await startByHand(services, byHand);
          const total = Number(process.hrtime.bigint() - start) / 1e6;
          if (!warmup) {
            for (const svc of services) each.byHand[svc.type].push(took.get(svc.name)!);
          }
          return total;
        } finally {
          await stopByHand(byHand);
        }
      },
    };

    log(`warm: timing ${runs} runs each of envctl warm (then cool) and the by-hand start`);
    const [e, b] = await timeSides([envctlSide, baselineSide], runs);
    const part = (k: keyof Phases): string => medianSec(parts.map((p) => p[k]));
    const notes = [
      `${containers} containers + ${daemons} daemons from cold to all healthy; by hand = docker run -d, sh -c in a new session, health polled in dependency order`,
      `envctl warm in parts (medians, from when its progress lines arrived): ${part("before")} before the first service starts, ${part("during")} starting services (by hand, all of it: ${medianSec(b)}), ${part("after")} after the last is healthy`,
      `one service from start to healthy, median (envctl's from its progress lines, 0.1 s steps): container ${medianSec(each.envctl.container)} in envctl, ${medianSec(each.byHand.container)} by hand; daemon ${medianSec(each.envctl.process)} in envctl, ${medianSec(each.byHand.process)} by hand`,
      `envctl cool between runs (untimed): median ${medianSec(cools)}`,
    ];
    return [
      result(
        "warm",
        { label: "envctl warm NAME", times: e },
        { label: "docker run + setsid + polls", times: b },
        { notes },
      ),
    ];
  };

  const cleanup = async (): Promise<void> => {
    log(`warm: destroying env ${name}, removing the by-hand containers and daemons`);
    const failures: unknown[] = [];
    await stopByHand(byHand).catch((err: unknown) => failures.push(err));
    // A failed spawn removes what it made; whatever is still in the catalog needs a destroy.
    if (catalogEnvNames(home).includes(name)) {
      await destroyEnv(home, name, repo).catch((err: unknown) => failures.push(err));
    }
    if (failures.length > 0) throw failures[0];
    for (const dir of [home.root, repo, byHand.logDir]) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  return withCleanup("warm", measure, cleanup);
}

function leasedBlock(catalogFile: string, name: string): number {
  const catalog = Catalog.open(catalogFile);
  try {
    const block = catalog.getEnv(name)?.block;
    if (block === undefined || block === null) throw new Error(`env ${name} has no port block`);
    return block;
  } finally {
    catalog.close();
  }
}

/**
 * A block whose ports are free now, from the top down: envctl leases from the bottom, so other
 * envctl runs on this machine are unlikely to take it while the bench holds it on and off.
 */
async function baselineBlock(spec: EnvSpec, avoid: number): Promise<number> {
  for (let n = MAX_BLOCK; n >= 0; n--) {
    if (n === avoid) continue;
    if ((await busyPorts(hostPorts(spec.services, blockBase(n)))).length === 0) return n;
  }
  throw new Error("no port block with free ports for the baseline");
}

/** `envctl list --json` must show the env warm, every service running, nothing flagged. */
function checkWarm(stdout: string, name: string, spec: EnvSpec): void {
  const doc = JSON.parse(stdout) as {
    envs: { name: string; state: string; warnings: string[]; services?: { running?: boolean }[] }[];
  };
  const e = doc.envs.find((x) => x.name === name);
  const up = e?.services?.filter((s) => s.running).length ?? 0;
  if (e?.state !== "warm" || e.warnings.length > 0 || up !== spec.services.length) {
    throw new Error(`after warm, envctl list --json shows:\n${JSON.stringify(e, null, 2)}`);
  }
}

if (require.main === module) runAlone(() => warmBench());
