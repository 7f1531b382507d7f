/**
 * Shared by the benchmarks: timing child processes, medians, the result table and a Ctrl-C that
 * still cleans up. Benchmarks compare envctl against plain pulumi measured in the same run and
 * report ratios; nothing here fails on slowness, only on errors.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { engineVars } from "../lib/automation";
import type { Home } from "../lib/home";
import { projectRoot } from "../lib/toolchain";

export const ROOT = projectRoot();
export const ENVCTL = path.join(ROOT, "bin", "envctl");
export const PULUMI = path.join(ROOT, ".toolchain", "bin", "pulumi");

/** One benchmark's outcome; printed as a table row and as one JSON line. */
export interface BenchResult {
  bench: string;
  /** Median wall time of the envctl command, ms. */
  envctl_ms: number;
  /** Median wall time of the equivalent pulumi command, ms. */
  pulumi_ms: number;
  /** pulumi_ms / envctl_ms: above 1 means envctl is faster. */
  ratio: number;
  /** Timed runs per side (warm-up excluded), and the spread, for the table only. */
  runs: number;
  envctl_range: [number, number];
  pulumi_range: [number, number];
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
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code === 0) {
        resolve({ ms, stdout, stderr });
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

/**
 * Times `a` and `b` `runs` times each, interleaved (a b, b a, ...) so drift in machine load hits
 * both sides alike. One untimed warm-up of each comes first; `check` sees its output.
 */
export async function timeInterleaved(
  a: Cmd,
  b: Cmd,
  runs: number,
  check: (which: "a" | "b", out: RunOutput) => void = () => {},
): Promise<{ a: number[]; b: number[] }> {
  checkInterrupted();
  check("a", await run(a));
  checkInterrupted();
  check("b", await run(b));
  const times = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const order: ("a" | "b")[] = i % 2 === 0 ? ["a", "b"] : ["b", "a"];
    for (const which of order) {
      checkInterrupted();
      const out = await run(which === "a" ? a : b);
      check(which, out);
      times[which].push(out.ms);
    }
    log(
      `  run ${i + 1}/${runs}: ${a.label} ${ms(times.a.at(-1)!)}, ${b.label} ${ms(times.b.at(-1)!)}`,
    );
  }
  return times;
}

export function result(bench: string, envctl: number[], pulumi: number[]): BenchResult {
  const e = median(envctl);
  const p = median(pulumi);
  return {
    bench,
    envctl_ms: Math.round(e),
    pulumi_ms: Math.round(p),
    ratio: Math.round((p / e) * 100) / 100,
    runs: envctl.length,
    envctl_range: [Math.round(Math.min(...envctl)), Math.round(Math.max(...envctl))],
    pulumi_range: [Math.round(Math.min(...pulumi)), Math.round(Math.max(...pulumi))],
  };
}

function ms(x: number): string {
  return `${Math.round(x)} ms`;
}

/** The human table, then one JSON line per bench. */
export function report(results: BenchResult[]): string {
  const head = [
    "bench",
    "runs",
    "envctl median",
    "pulumi median",
    "pulumi/envctl",
    "envctl min-max",
    "pulumi min-max",
  ];
  const rows = results.map((r) => [
    r.bench,
    String(r.runs),
    ms(r.envctl_ms),
    ms(r.pulumi_ms),
    `${r.ratio.toFixed(2)}x`,
    `${r.envctl_range[0]}-${r.envctl_range[1]} ms`,
    `${r.pulumi_range[0]}-${r.pulumi_range[1]} ms`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const json = results.map((r) =>
    JSON.stringify({
      bench: r.bench,
      envctl_ms: r.envctl_ms,
      pulumi_ms: r.pulumi_ms,
      ratio: r.ratio,
    }),
  );
  return (
    [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line), "", ...json].join(
      "\n",
    ) + "\n"
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

/** Entry point for a bench file run alone: prints its report; exit 1 only on an error. */
export function runAlone(bench: () => Promise<BenchResult>): void {
  installInterruptHandler();
  void bench().then(
    (r) => process.stdout.write(report([r])),
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
