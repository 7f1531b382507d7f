/** Field schemas shared by the spec's parts (schema.ts, hivesync-schema.ts). */
import { z } from "zod";

export const DURATION_MSG = 'must be a duration like "500ms", "2s" or "1m", or a number of seconds';
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a duration string such as `"1m30s"`; assumes it matched `DURATION_RE`. */
export function durationMs(text: string): number {
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 1000);
  }
  return Math.round(total);
}

export const duration = z.union(
  [
    z
      .number()
      .nonnegative(DURATION_MSG)
      .transform((s) => Math.round(s * 1000)),
    z.string().regex(DURATION_RE, DURATION_MSG).transform(durationMs),
  ],
  { error: DURATION_MSG },
);
