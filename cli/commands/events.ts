/**
 * `envctl events NAME`: the env supervisor's state and health changes as NDJSON, one
 * SupervisorEvent per line (lib/supervisor/model.ts), for editors and scripts. Follows new
 * events until interrupted; `--since` prints the ones from then on first; `--no-follow`
 * prints what is recorded and exits.
 */
import { eventsPath } from "../../lib/supervisor/model";
import { checkName, envRecord, seams, type CommandSeams } from "../context";
import { followFile, LineSplitter, readTail } from "../ui/logs";
import { parseSince } from "../ui/since";

export interface EventsOptions extends CommandSeams {
  name: string;
  since?: string;
  /** @default true */
  follow?: boolean;
  pollMs?: number;
}

export async function events(opts: EventsOptions): Promise<void> {
  const s = seams(opts);
  checkName(opts.name);
  const record = envRecord(s.home, opts.name, "events");
  const stateDir = record.resolved?.stateDir;
  const since = opts.since !== undefined ? parseSince(opts.since) : undefined;
  const follow = opts.follow !== false;
  if (!stateDir) return;
  const file = eventsPath(stateDir);
  // What is recorded: everything without --follow, or from --since on.
  const tail = readTail(file, follow && since === undefined ? 0 : Number.MAX_SAFE_INTEGER);
  const from = since ?? 0;
  const shown = (tail?.lines ?? []).filter((line) => {
    try {
      return Date.parse((JSON.parse(line) as { time: string }).time) >= from;
    } catch {
      return false; // a line cut by a truncation
    }
  });
  if (shown.length > 0) s.out(shown.join("\n"));
  if (!follow) return;
  const signal = s.signal ?? new AbortController().signal;
  const splitter = new LineSplitter();
  // A file that does not exist yet is read from its start once it appears.
  await followFile(file, {
    from: tail?.at ?? { ino: -1, end: 0 },
    signal,
    ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
    onData: (chunk) => {
      const lines = splitter.push(chunk).filter((l) => l.startsWith("{"));
      if (lines.length > 0) s.out(lines.join("\n"));
    },
  });
}
