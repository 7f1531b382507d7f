/**
 * A no-op `envctl up` (nothing changed) vs a raw `pulumi up --yes --skip-preview` of the same
 * stack: what envctl's own work (spec load, repo check, lease, stack select, config) adds on top
 * of the engine. One container, created once before timing and destroyed at the end.
 * Run alone: `node dist/bench/noop-up.js`.
 */
import * as fs from "node:fs";
import { makeRepo, tempHome } from "../test/support/env";
import {
  benchEnv,
  cmdSide,
  destroyEnv,
  ENVCTL,
  log,
  PULUMI,
  reserveLowBlocks,
  result,
  run,
  runAlone,
  timeSides,
  withCleanup,
  type BenchResult,
} from "./support";

const SPEC = `services:
  app:
    image: debian:bookworm
    command: sleep infinity
    health: { command: "true", interval: 200ms }
`;

/** True when pulumi's "Resources:" summary lists nothing but `N unchanged`. */
export function onlyUnchanged(pulumiOutput: string): boolean {
  const section = /^Resources:\n((?:[ \t]+\S.*\n?)+)/m.exec(pulumiOutput)?.[1];
  if (!section) return false;
  return section
    .trimEnd()
    .split("\n")
    .every((l) => /^\s*\d+ unchanged$/.test(l));
}

export interface NoopUpBenchOptions {
  /** Timed runs per side. @default 5 */
  runs?: number;
}

export async function noopUpBench(opts: NoopUpBenchOptions = {}): Promise<BenchResult[]> {
  const runs = opts.runs ?? 5;
  const home = tempHome();
  const env = benchEnv(home);
  const repo = makeRepo({ files: { "envctl.yaml": SPEC } });
  const name = `bench-${process.pid}-up`;
  const upArgs = ["up", name, "-f", "envctl.yaml", "--yes"];

  const measure = async (): Promise<BenchResult> => {
    reserveLowBlocks(home);
    log(`noop-up: creating env ${name} (one container) in ${home.root}`);
    await run({ label: "envctl up (first)", file: ENVCTL, args: upArgs, cwd: repo, env });

    log(`noop-up: timing ${runs} no-op runs each of envctl up and pulumi up`);
    // A run that changes something is not a no-op and would skew the comparison.
    const envctl = cmdSide(
      { label: "envctl up", file: ENVCTL, args: upArgs, cwd: repo, env },
      (out) => {
        if (!/\(no changes,/.test(out.stderr)) {
          throw new Error(`envctl up was not a no-op:\n${out.stderr}`);
        }
      },
    );
    const pulumi = cmdSide(
      {
        label: "pulumi up",
        file: PULUMI,
        args: ["up", "--yes", "--skip-preview", "--stack", name],
        cwd: home.projectDir, // the home's project holds the stack's settings
        env,
      },
      (out) => {
        if (!onlyUnchanged(out.stdout)) {
          throw new Error(`pulumi up was not a no-op:\n${out.stdout}`);
        }
      },
    );
    const [e, p] = await timeSides([envctl, pulumi], runs);
    return result(
      "noop-up",
      { label: "envctl up NAME --yes", times: e },
      { label: "pulumi up --yes --skip-preview", times: p },
    );
  };

  /** Destroys the env; on failure keeps the home and stack config, which a manual destroy needs. */
  const cleanup = async (): Promise<void> => {
    log(`noop-up: destroying env ${name}`);
    await destroyEnv(home, name, repo);
    fs.rmSync(home.root, { recursive: true, force: true });
    fs.rmSync(repo, { recursive: true, force: true });
  };

  return [await withCleanup("noop-up", measure, cleanup)];
}

if (require.main === module) runAlone(() => noopUpBench());
