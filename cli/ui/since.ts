/** `--since`: a duration back from now (`90s`, `10m`, `2h`) or a time (RFC 3339 / ISO 8601). */
import { badInput } from "../../lib/core/errors";
import { durationMs } from "../../lib/spec/fields";

const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

/** Milliseconds since the epoch; a bad value is exit 2 naming the flag. */
export function parseSince(text: string, now = Date.now()): number {
  const t = text.trim();
  if (DURATION_RE.test(t)) return now - durationMs(t);
  if (/^\d{4}-\d\d-\d\d/.test(t)) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  throw badInput(
    `--since: must be a duration like "10m" or "90s", or a time like 2026-12-04T10:00:00Z, got ${JSON.stringify(text)}`,
  );
}
