/**
 * Reading envctl's progress lines (stderr) for the notes under the table: how long each
 * resource took (`+ Container x-kv: created (2.8s)`, 0.1 s steps) and where a run's wall time
 * went, from when the lines arrived.
 */
import { median, type RunOutput } from "./support";

/** `kind` -> durations in ms of the resources of that kind the run created. */
export function createdDurations(stderr: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of stderr.matchAll(/\+ (\w+) \S+: created \(([\d.]+)s\)/g)) {
    const kind = m[1]!;
    if (!out.has(kind)) out.set(kind, []);
    out.get(kind)!.push(Number(m[2]) * 1000);
  }
  return out;
}

/** A run's wall time in three parts, as seen on its stderr. */
export interface Phases {
  /** Start to the first `creating...` line: node, CLI, checks, stack select, engine start-up. */
  before: number;
  /** First `creating...` to the last `created` line: the resources themselves. */
  during: number;
  /** Last `created` line to exit: outputs, summary, catalog. */
  after: number;
}

export function phases(out: RunOutput): Phases | undefined {
  const first = out.stderrLines.find((l) => /: creating\.\.\.$/.test(l.text));
  const last = out.stderrLines.filter((l) => /: created \(/.test(l.text)).at(-1);
  if (!first || !last) return undefined;
  return { before: first.ms, during: last.ms - first.ms, after: out.ms - last.ms };
}

/** Median of `xs` (ms) in seconds for a note: `3.2 s`, or `-` when there is none. */
export function medianSec(xs: number[]): string {
  return xs.length === 0 ? "-" : `${(median(xs) / 1000).toFixed(1)} s`;
}
