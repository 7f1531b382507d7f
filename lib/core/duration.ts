/** Go durations (`1m30s`, `500ms`, `1.5us`), as Compose writes them. */

/** One or more `<number><unit>` runs, Go's units; a bare `0` is a duration too. */
export const GO_DURATION_RE = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$|^0$/;

const NS_PER: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 6e10,
  h: 3.6e12,
};

/** Nanoseconds of a Go duration, or undefined when `text` is not one. */
export function goDurationNs(text: string): number | undefined {
  if (!GO_DURATION_RE.test(text)) return undefined;
  let ns = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    ns += Number(m[1]) * (NS_PER[m[2]!] ?? 0);
  }
  return ns;
}
