/**
 * `envctl spawn NAME --no-open` (worktree, port lease, stack, env.sh, network, one cold daemon
 * gated on its health check) vs a plain `git worktree add -b BRANCH DIR main` of the same
 * repository: how much of spawn is making the worktree, and what the rest costs. The repository
 * is generated (about 5,000 files, 50 MB, bench/big-repo.ts) with bench/fixtures/spawn copied
 * in. Every run makes a new env or worktree and removes it afterwards, untimed.
 * Run alone: `node dist/bench/spawn.js`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { git, tempDir, tempHome } from "../test/support/env";
import { makeBigRepo } from "./big-repo";
import { createdDurations, medianSec, phases, type Phases } from "./progress";
import {
  benchEnv,
  catalogEnvNames,
  destroyEnv,
  ENVCTL,
  log,
  median,
  ms,
  reserveLowBlocks,
  result,
  ROOT,
  run,
  runAlone,
  timeSides,
  withCleanup,
  type BenchResult,
  type Side,
} from "./support";

const FIXTURE = path.join(ROOT, "bench", "fixtures", "spawn");

export interface SpawnBenchOptions {
  /** Timed runs per side. @default 5 */
  runs?: number;
  /** Files in the generated repository. @default 5000 */
  files?: number;
  /** Its size in MB. @default 50 */
  mb?: number;
}

export async function spawnBench(opts: SpawnBenchOptions = {}): Promise<BenchResult[]> {
  const runs = opts.runs ?? 5;
  const home = tempHome();
  const env = benchEnv(home);
  const prefix = `bench-${process.pid}`;
  const plainDir = path.join(home.root, "plain-worktrees");
  const repoDir = tempDir("bigrepo");

  const measure = async (): Promise<BenchResult[]> => {
    reserveLowBlocks(home);
    log(`spawn: generating a repository of ${opts.files ?? 5000} files, ${opts.mb ?? 50} MB`);
    const extra = Object.fromEntries(
      fs.readdirSync(FIXTURE).map((f) => [f, fs.readFileSync(path.join(FIXTURE, f), "utf8")]),
    );
    const big = makeBigRepo(repoDir, { files: opts.files ?? 5000, mb: opts.mb ?? 50, extra });
    const mb = (big.bytes / 1024 / 1024).toFixed(0);
    log(`spawn: ${big.files} files, ${mb} MB in ${big.dir}`);

    // For the notes, timed runs only: spawn's parts, from its progress lines.
    const inside = { Worktree: [] as number[], Process: [] as number[] };
    const parts: Phases[] = [];
    const spawnSide: Side = {
      label: "envctl spawn",
      once: async (n, warmup) => {
        const name = `${prefix}-s${n}`;
        const args = ["spawn", name, "-f", "envctl.yaml", "--no-open"];
        const out = await run({ label: "envctl spawn", file: ENVCTL, args, cwd: big.dir, env });
        if (!/is cold \(/.test(out.stderr)) {
          throw new Error(`envctl spawn did not report a cold env:\n${out.stderr}`);
        }
        if (!warmup) {
          const took = createdDurations(out.stderr);
          inside.Worktree.push(...(took.get("Worktree") ?? []));
          inside.Process.push(...(took.get("Process") ?? []));
          const p = phases(out);
          if (p) parts.push(p);
        }
        await destroyEnv(home, name, big.dir);
        return out.ms;
      },
    };
    const worktreeSide: Side = {
      label: "git worktree add",
      once: async (n) => {
        const branch = `${prefix}-w${n}-workspace`;
        const dir = path.join(plainDir, `w${n}`);
        const args = ["-C", big.dir, "worktree", "add", "-q", "-b", branch, dir, "main"];
        const out = await run({ label: "git worktree add", file: "git", args, cwd: ROOT, env });
        git(big.dir, "worktree", "remove", "--force", dir);
        git(big.dir, "branch", "-q", "-D", branch);
        return out.ms;
      },
    };

    log(`spawn: timing ${runs} runs each of envctl spawn (then destroy) and git worktree add`);
    const [s, w] = await timeSides([spawnSide, worktreeSide], runs);
    const spawnMs = median(s);
    const addMs = median(w);
    const share = Math.round((addMs / spawnMs) * 100);
    const part = (k: keyof Phases): string => medianSec(parts.map((p) => p[k]));
    const notes = [
      `repository: ${big.files} files, ${mb} MB; spec: one cold daemon (tcp health every 200ms), no containers`,
      `git worktree add is ${share}% of spawn (${ms(addMs)} of ${ms(spawnMs)}); the other ${ms(spawnMs - addMs)} is envctl's own work`,
      `spawn in parts (medians, from when its progress lines arrived): ${part("before")} before the first resource (node, spec and repo checks, port lease, stack creation, engine start-up), ${part("during")} creating resources, ${part("after")} after the last`,
      `resources (envctl's progress lines, 0.1 s steps): Worktree ${medianSec(inside.Worktree)} (git worktree add alone: ${medianSec(w)}), cold daemon start to healthy ${medianSec(inside.Process)}`,
    ];
    return [
      result(
        "spawn",
        { label: "envctl spawn NAME --no-open", times: s },
        { label: "git worktree add -b", times: w },
        {
          notes,
          extra: {
            rest_ms: Math.round(spawnMs - addMs),
            worktree_resource_ms: Math.round(median(inside.Worktree)),
            daemon_ms: Math.round(median(inside.Process)),
          },
        },
      ),
    ];
  };

  const cleanup = async (): Promise<void> => {
    // A run that failed half way may have left an env (its daemon, stack) or a worktree.
    const left = catalogEnvNames(home);
    if (left.length > 0) log(`spawn: destroying leftover envs ${left.join(", ")}`);
    for (const name of left) await destroyEnv(home, name, repoDir);
    // Both kinds of worktree belong to the temp repository: removing it and the home removes
    // their directories, branches and git metadata.
    fs.rmSync(repoDir, { recursive: true, force: true });
    fs.rmSync(home.root, { recursive: true, force: true });
  };

  return withCleanup("spawn", measure, cleanup);
}

if (require.main === module) runAlone(() => spawnBench());
