/**
 * Runs every benchmark in turn and prints one table, its notes and a JSON line per result:
 * `npm run bench`. Exits 1 only when a bench errors (setup, a failing command, cleanup), never
 * because something is slow.
 */
import { composeBench } from "./compose";
import { hostsBench } from "./hosts";
import { listBench } from "./list";
import { noopUpBench } from "./noop-up";
import { spawnBench } from "./spawn";
import {
  checkInterrupted,
  installInterruptHandler,
  log,
  report,
  type BenchResult,
} from "./support";
import { warmBench } from "./warm";

const BENCHES: [string, () => Promise<BenchResult[]>][] = [
  ["list", () => listBench()],
  ["noop-up", () => noopUpBench()],
  ["warm", () => warmBench()],
  ["spawn", () => spawnBench()],
  ["hosts", () => hostsBench()],
  ["compose", () => composeBench()],
];

async function main(): Promise<number> {
  // `npm run bench -- warm spawn` runs only those.
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !BENCHES.some(([name]) => name === w));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown bench ${unknown.join(", ")}; benches: ${BENCHES.map(([n]) => n).join(", ")}\n`,
    );
    return 2;
  }
  installInterruptHandler();
  const results: BenchResult[] = [];
  const failures: string[] = [];
  for (const [name, bench] of BENCHES) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    try {
      checkInterrupted();
      results.push(...(await bench()));
    } catch (err) {
      // Keep going: one broken bench should not hide the others' figures.
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      log(`${name} failed`);
    }
  }
  if (results.length > 0) process.stdout.write(report(results));
  for (const f of failures) process.stderr.write(`bench failed: ${f}\n`);
  return failures.length > 0 ? 1 : 0;
}

void main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
