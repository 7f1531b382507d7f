/**
 * Shared by the benchmarks: timing child processes, medians, the result table and a Ctrl-C that
 * still cleans up. Each bench compares an envctl command with a baseline doing the same job by
 * hand (plain pulumi, docker run, git worktree add) measured in the same run, and reports the
 * ratio; nothing here fails on slowness, only on errors.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { engineVars } from "../lib/engine/automation";
import { Catalog } from "../lib/catalog/catalog";
import { MAX_BLOCK } from "../lib/spec/ports";
import type { Home } from "../lib/core/home";
import { projectRoot } from "../lib/core/toolchain";

export const ROOT = projectRoot();
export const ENVCTL = path.join(ROOT, "bin", "envctl");
export const PULUMI = path.join(ROOT, ".toolchain", "bin", "pulumi");

/** One comparison: an envctl command against a baseline measured in the same run. */
export interface BenchResult {
  bench: string;
  /** What the envctl side runs, for the table. */
  envctl: string;
  /** What the baseline side runs, for the table. */
  baseline: string;
  /** Median wall time of the envctl side, ms. */
  envctl_ms: number;
  /** Median wall time of the baseline side, ms. */
  baseline_ms: number;
  /** envctl_ms / baseline_ms: what envctl costs in baselines; below 1 means envctl is faster. */
  ratio: number;
  /** Timed runs per side (warm-up excluded), and the spread, for the table only. */
  runs: number;
  envctl_range: [number, number];
  baseline_range: [number, number];
  /** Further figures for the JSON line (`rest_ms` of spawn). */
  extra?: Record<string, number>;
  /** Lines printed under the table (what the figures are made of). */
  notes?: string[];
}

export interface Cmd {
  label: string;
  file: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface RunOutput {
  ms: number;
  stdout: string;
  stderr: string;
  /** stderr's lines with the ms (since the start) each was read at: when progress was shown. */
  stderrLines: { ms: number; text: string }[];
}

/** Progress goes to stderr so stdout holds only the table and JSON lines. */
export function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

/**
 * The environment both sides get: envctl's engine vars for `home`, with the backend pinned to
 * the temp home's file backend so a PULUMI_BACKEND_URL in the caller's shell is never touched.
 */
export function benchEnv(home: Home): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...engineVars(home, ROOT),
    PULUMI_BACKEND_URL: `file://${home.stateDir}`,
    NO_COLOR: "1",
  };
}

/**
 * Leases port blocks 0..count-1 in the bench home's catalog to placeholder names, so the envs a
 * bench spawns get block `count` (ports 20000+ for 10) instead of the low blocks that envctl
 * runs elsewhere on the machine (tests, other homes) take first: a block is checked for free
 * ports when leased, and another home grabbing its port before the daemon starts fails the run.
 * Block 10 stays below Linux's ephemeral port range (32768+).
 */
export function reserveLowBlocks(home: Home, count = 10): void {
  fs.mkdirSync(home.root, { recursive: true });
  const catalog = Catalog.open(home.catalogFile);
  try {
    for (let b = 0; b < count; b++) catalog.leaseBlock(`reserved-${b}`, MAX_BLOCK);
  } finally {
    catalog.close();
  }
}

/** Names of the envs in the home's catalog (none when it has no catalog yet). */
export function catalogEnvNames(home: Home): string[] {
  if (!fs.existsSync(home.catalogFile)) return [];
  const catalog = Catalog.open(home.catalogFile);
  try {
    return catalog.listEnvs().map((e) => e.name);
  } finally {
    catalog.close();
  }
}

/**
 * `envctl destroy NAME --yes --force` (force: bench worktrees are throwaways), then the stack's
 * `Pulumi.NAME.yaml`. On failure the error says how to finish by hand; the caller keeps the home.
 */
export async function destroyEnv(home: Home, name: string, cwd: string): Promise<void> {
  try {
    const args = ["destroy", name, "--yes", "--force"];
    await run({ label: `envctl destroy ${name}`, file: ENVCTL, args, cwd, env: benchEnv(home) });
  } catch (err) {
    const hint = `ENVCTL_HOME=${home.root} ${ENVCTL} destroy ${name} --yes --force`;
    throw new Error(`cleanup failed; finish it with: ${hint}\n${(err as Error).message}`);
  }
}

/** Runs a child to completion and times it; rejects with its output on a non-zero exit. */
export function run(cmd: Cmd): Promise<RunOutput> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd.file, cmd.args, {
      cwd: cmd.cwd,
      // Own process group: a terminal Ctrl-C reaches only the bench, which lets the running
      // command finish (no half-done update, no stuck lock) and then cleans up.
      detached: true,
      env: cmd.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const since = (): number => Number(process.hrtime.bigint() - start) / 1e6;
    let stdout = "";
    let stderr = "";
    const stderrLines: RunOutput["stderrLines"] = [];
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      const lines = (partial + d).split("\n");
      partial = lines.pop()!;
      const at = since();
      for (const text of lines) stderrLines.push({ ms: at, text });
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const ms = since();
      if (partial) stderrLines.push({ ms, text: partial });
      if (code === 0) {
        resolve({ ms, stdout, stderr, stderrLines });
        return;
      }
      const why = signal ? `signal ${signal}` : `exit ${code}`;
      const tail = (stderr.trim() || stdout.trim()).split("\n").slice(-15).join("\n");
      reject(new Error(`${cmd.label} failed (${why}):\n${tail}`));
    });
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** One side of a comparison: `once` does one run and resolves to the ms of its timed part. */
export interface Side {
  label: string;
  /**
   * Setup and cleanup inside it (a destroy after a spawn) are not timed. `run` counts every
   * call from 0 across all sides (unique names); `warmup` is true for the untimed first call.
   */
  once: (run: number, warmup: boolean) => Promise<number>;
}

/** A side that runs one command and times all of it; `check` sees every output. */
export function cmdSide(cmd: Cmd, check: (out: RunOutput) => void = () => {}): Side {
  return {
    label: cmd.label,
    once: async () => {
      const out = await run(cmd);
      check(out);
      return out.ms;
    },
  };
}

/**
 * Times each side `runs` times, rotating the order every run (a b, b a for two sides; a b c,
 * b c a, c a b for three) so drift in machine load hits all sides alike. One untimed warm-up
 * of each comes first. Returns the times per side, in the order given.
 */
export async function timeSides<T extends Side[]>(
  sides: [...T],
  runs: number,
): Promise<{ [K in keyof T]: number[] }> {
  let n = 0;
  for (const side of sides) {
    checkInterrupted();
    await side.once(n++, true);
  }
  const times = sides.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < sides.length; j++) {
      const k = (i + j) % sides.length;
      checkInterrupted();
      times[k]!.push(await sides[k].once(n++, false));
    }
    log(
      `  run ${i + 1}/${runs}: ${sides.map((s, k) => `${s.label} ${ms(times[k]!.at(-1)!)}`).join(", ")}`,
    );
  }
  return times as { [K in keyof T]: number[] };
}

/**
 * Runs `measure`, then `cleanup` whatever happened. When measuring failed, its error is the one
 * thrown and a cleanup failure is only logged.
 */
export async function withCleanup<R>(
  bench: string,
  measure: () => Promise<R>,
  cleanup: () => Promise<void>,
): Promise<R> {
  let measured: R;
  try {
    measured = await measure();
  } catch (err) {
    await cleanup().catch((e: unknown) => log(`${bench}: ${(e as Error).message}`));
    throw err;
  }
  await cleanup();
  return measured;
}

export function result(
  bench: string,
  envctl: { label: string; times: number[] },
  baseline: { label: string; times: number[] },
  more: Pick<BenchResult, "extra" | "notes"> = {},
): BenchResult {
  const e = median(envctl.times);
  const b = median(baseline.times);
  const range = (xs: number[]): [number, number] => [
    Math.round(Math.min(...xs)),
    Math.round(Math.max(...xs)),
  ];
  return {
    bench,
    envctl: envctl.label,
    baseline: baseline.label,
    envctl_ms: Math.round(e),
    baseline_ms: Math.round(b),
    ratio: Math.round((e / b) * 100) / 100,
    runs: envctl.times.length,
    envctl_range: range(envctl.times),
    baseline_range: range(baseline.times),
    ...more,
  };
}

export function ms(x: number): string {
  return `${Math.round(x)} ms`;
}

/** The human table, its notes, then one JSON line per result. */
export function report(results: BenchResult[]): string {
  const head = [
    "bench",
    "runs",
    "envctl",
    "median",
    "baseline",
    "median",
    "envctl/baseline",
    "envctl min-max",
    "baseline min-max",
  ];
  const rows = results.map((r) => [
    r.bench,
    String(r.runs),
    r.envctl,
    ms(r.envctl_ms),
    r.baseline,
    ms(r.baseline_ms),
    `${r.ratio.toFixed(2)}x`,
    `${r.envctl_range[0]}-${r.envctl_range[1]} ms`,
    `${r.baseline_range[0]}-${r.baseline_range[1]} ms`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const notes = results.flatMap((r) => (r.notes ?? []).map((n) => `${r.bench}: ${n}`));
  const json = results.map((r) =>
    JSON.stringify({
      bench: r.bench,
      envctl_ms: r.envctl_ms,
      baseline_ms: r.baseline_ms,
      ratio: r.ratio,
      ...r.extra,
    }),
  );
  return (
    [
      line(head),
      line(widths.map((w) => "-".repeat(w))),
      ...rows.map(line),
      ...(notes.length > 0 ? ["", ...notes] : []),
      "",
      ...json,
    ].join("\n") + "\n"
  );
}

// ---- interruption ------------------------------------------------------------------------

let interrupted = false;

/**
 * First Ctrl-C (or SIGTERM): let the running child finish, stop timing, run the cleanup in
 * `finally` blocks. A second one exits at once (and may leave temp stacks behind).
 */
export function installInterruptHandler(): void {
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${sig}: stopping after the current command and cleaning up (again to quit now)`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

export function checkInterrupted(): void {
  if (interrupted) throw new Error("interrupted");
}

/**
 * Entry point for a bench file that takes `--rounds N` (default 3): a bad count exits 2, else
 * as runAlone.
 */
export function runAloneWithRounds(
  bench: (opts: { rounds: number }) => Promise<BenchResult[]>,
): void {
  const i = process.argv.indexOf("--rounds");
  const rounds = i >= 0 ? Number(process.argv[i + 1]) : 3;
  if (!Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write("--rounds must be a whole number of at least 1\n");
    process.exitCode = 2;
    return;
  }
  runAlone(() => bench({ rounds }));
}

/** Entry point for a bench file run alone: prints its report; exit 1 only on an error. */
export function runAlone(bench: () => Promise<BenchResult[]>): void {
  installInterruptHandler();
  // A wait nothing can end empties the event loop and node would exit 0 without a report.
  let settled = false;
  process.once("beforeExit", () => {
    if (settled) return;
    process.stderr.write("bench failed: it stopped waiting on something that can never finish\n");
    process.exitCode = 1;
  });
  void bench()
    .finally(() => (settled = true))
    .then(
      (rs) => process.stdout.write(report(rs)),
      (err: unknown) => {
        process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      },
    );
}

/** Runs `fn` over `items`, at most `limit` at a time; waits for all, then throws the first error. */
export async function inBatches<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const errors: unknown[] = [];
  for (let i = 0; i < items.length; i += limit) {
    const settled = await Promise.allSettled(items.slice(i, i + limit).map(fn));
    for (const s of settled) if (s.status === "rejected") errors.push(s.reason);
  }
  if (errors.length > 0) throw errors[0];
}
