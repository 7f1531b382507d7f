import type { Readable } from "node:stream";
import type Dockerode from "dockerode";
import * as path from "node:path";
import { INIT_LOG, logFilePath } from "../../lib/runtime/daemon";
import { badInput, UserError } from "../../lib/core/errors";
import type { Home } from "../../lib/core/home";
import {
  colorEnabled,
  displayText,
  dockerSince,
  followFile,
  FrameDemuxer,
  LineSplitter,
  mergeHistory,
  prefixer,
  readTail,
  sleep,
  splitDockerTime,
  type DockerStream,
  type FilePosition,
  type LogLine,
} from "../ui/logs";
import { containerName } from "../../lib/core/names";
import { checkName, envRecord, seams, type CommandSeams } from "../context";
import { parseSince } from "../ui/since";

export interface LogsOptions extends CommandSeams {
  name: string;
  /** Only this service; default: all of them, in spec order. */
  service?: string;
  /** Keep printing new lines until `signal` fires. */
  follow?: boolean;
  /** Lines of history per service. @default "100" */
  lines?: string | number;
  /** Colour the prefixes. @default from NO_COLOR, FORCE_COLOR and whether stdout is a terminal */
  color?: boolean;
  /** How often log files are polled when following. @default 200 */
  pollMs?: number;
  /** Print each line's time (process services' lines carry it since envctl-stamp). */
  timestamps?: boolean;
  /** Only lines from then on: a duration back (`10m`) or a time; history is then not cut at -n. */
  since?: string;
}

/** How often a followed container that is missing or stopped is looked at again. */
const CONTAINER_POLL_MS = 1000;

/**
 * The last lines of the env's services, each prefixed with its service, then (with `follow`)
 * new lines as they come until `signal` fires. Process services are read from their log files,
 * containers from Docker; an env without containers never talks to Docker.
 */
export async function logs(opts: LogsOptions): Promise<void> {
  const s = seams(opts);
  checkName(opts.name);
  const since = opts.since !== undefined ? parseSince(opts.since) : undefined;
  const lines =
    opts.lines === undefined && since !== undefined
      ? Number.MAX_SAFE_INTEGER
      : parseLines(opts.lines ?? "100");
  const services = selectSources(s.home, opts.name, opts.service);
  const color = opts.color ?? colorEnabled(process.env, process.stdout.isTTY === true);
  const prefix = prefixer(
    services.map((svc) => svc.name),
    color,
  );
  const after = (l: LogLine): boolean =>
    since === undefined || (l.time !== undefined && timeMs(l.time) >= since);
  const print = (batch: LogLine[]): void => {
    const shown = batch.filter(after);
    if (shown.length === 0) return;
    s.out(
      shown
        .map((l) =>
          prefix.line(
            l.service,
            displayText(opts.timestamps && l.time ? `${isoTime(l.time)} ${l.text}` : l.text),
          ),
        )
        .join("\n"),
    );
  };

  const sources = services.map((src) =>
    "file" in src
      ? fileSource(src.name, src.file)
      : containerSource(src.name, src.container, src.host),
  );
  const history = await Promise.all(sources.map((src) => src.history(lines)));
  print(mergeHistory(history.map((h) => h.lines)));
  // With `-n 0` only problems are worth a note, not empty history.
  const notes = history.flatMap((h, i) => {
    const note =
      h.lines.length > 0 ? undefined : (h.note ?? (lines > 0 ? "(no output yet)" : undefined));
    return note === undefined ? [] : [prefix.note(services[i]!.name, note)];
  });
  if (notes.length > 0) s.out(notes.join("\n"));
  if (!opts.follow) return;
  // Without a signal (a script's own use), following never ends.
  const signal = s.signal ?? new AbortController().signal;
  await Promise.all(sources.map((src) => src.follow(signal, print, opts.pollMs)));
}

/** A LogLine time (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnn`, UTC) in ms since the epoch. */
function timeMs(time: string): number {
  return Date.parse(`${time.slice(0, 23)}Z`);
}

/** As printed with --timestamps: `2026-12-04T10:00:00.123Z`. */
function isoTime(time: string): string {
  return `${time.slice(0, 23)}Z`;
}

function parseLines(raw: string | number): number {
  const n = typeof raw === "number" ? raw : /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw badInput(`--lines must be a whole number of lines (0 or more), got "${raw}"`);
  }
  return n;
}

/** A source to show: a service's output, or the first-warm init steps' log. */
type Shown = { name: string } & ({ file: string } | { container: string; host?: string });

/**
 * What to show, in spec order: every service, and before them the init steps' log (labelled
 * `init`, or `(init)` when a service is called init) when the spec has init steps. `only` picks
 * one service, or the init log by its label.
 */
function selectSources(home: Home, name: string, only: string | undefined): Shown[] {
  const record = envRecord(home, name, "logs");
  const env = record.resolved;
  // A start-first service's container has a name per rollout: the last outputs say which.
  const recorded = (record.outputs?.services ?? {}) as Record<string, { container?: string }>;
  if (!env) {
    throw new UserError(`env ${name} has no services yet: its first \`envctl up\` did not finish`);
  }
  const services: Shown[] = env.services.map((svc) =>
    svc.type === "process"
      ? { name: svc.name, file: logFilePath(env.stateDir, svc.name) }
      : {
          name: svc.name,
          container: recorded[svc.name]?.container ?? containerName(name, svc.name),
          ...(env.dockerHost ? { host: env.dockerHost } : {}),
        },
  );
  const initLabel = services.some((svc) => svc.name === "init") ? "(init)" : "init";
  const all: Shown[] =
    env.init.length > 0
      ? [{ name: initLabel, file: path.join(env.stateDir, INIT_LOG) }, ...services]
      : services;
  if (only === undefined) return all;
  const one = all.filter((src) => src.name === only);
  if (one.length === 0) {
    throw badInput(`env ${name} has no service "${only}"`, [
      `its services: ${services.map((svc) => svc.name).join(", ") || "(none)"}`,
      ...(env.init.length > 0 ? [`its init steps' log: ${initLabel}`] : []),
    ]);
  }
  return one;
}

interface History {
  lines: LogLine[];
  /** Said instead of the lines when there are none (why not). */
  note?: string;
}

interface Source {
  history(lines: number): Promise<History>;
  /** Prints new lines until `signal` fires; starts where `history` stopped. */
  follow(signal: AbortSignal, print: (batch: LogLine[]) => void, pollMs?: number): Promise<void>;
}

function fileSource(service: string, file: string): Source {
  let from: FilePosition | undefined;
  return {
    history(lines) {
      const tail = readTail(file, lines);
      from = tail?.at;
      return Promise.resolve({
        lines: (tail?.lines ?? []).map((raw) => ({ service, ...splitDockerTime(raw) })),
      });
    },
    async follow(signal, print, pollMs) {
      const splitter = new LineSplitter();
      const emit = (texts: string[]): void =>
        print(texts.map((raw) => ({ service, ...splitDockerTime(raw) })));
      await followFile(file, {
        from,
        signal,
        pollMs,
        onData: (chunk) => emit(splitter.push(chunk)),
      });
      emit(splitter.end());
    },
  };
}

/** A container's logs, from the engine it runs on (`host`: a remote one; none: this machine's). */
function containerSource(service: string, container: string, host?: string): Source {
  /** Time of the last line printed: following asks Docker for what came after it. */
  let last: string | undefined;
  const toLine = (raw: string): LogLine => ({ service, ...splitDockerTime(raw) });
  return {
    async history(lines) {
      const { docker, dockerReason, statusOf } = await import("../../lib/docker/client");
      const c = docker(host).getContainer(container);
      try {
        const info = await c.inspect();
        // At least one line, so following knows where history ended even with `-n 0`.
        const raw = await c.logs({
          stdout: true,
          stderr: true,
          timestamps: true,
          follow: false,
          tail: Math.max(lines, 1),
        });
        const all = decodeLogs(raw, info.Config.Tty).map(toLine);
        last = all.at(-1)?.time;
        return { lines: lines === 0 ? [] : all };
      } catch (err) {
        if (statusOf(err) === 404) return { lines: [] }; // not created yet
        return { lines: [], note: `(cannot read its logs: ${dockerReason(err)})` };
      }
    },
    async follow(signal, print) {
      const { docker } = await import("../../lib/docker/client");
      const c = docker(host).getContainer(container);
      const emit = (raws: string[]): void => {
        const fresh = raws.map(toLine).filter((l) => !last || !l.time || l.time > last);
        for (const l of fresh) last = l.time ?? last;
        print(fresh);
      };
      // Reattach whenever the container (re)starts; a stopped one is read once more to its end.
      let seen = "";
      while (!signal.aborted) {
        try {
          const info = await c.inspect();
          const key = `${info.Id} ${info.State.StartedAt} ${info.State.Running}`;
          if (info.State.Running || key !== seen) {
            seen = key;
            await streamLogs(c, info.Config.Tty, last, signal, emit);
          }
        } catch {
          // missing container or unreachable engine: look again shortly
        }
        await sleep(CONTAINER_POLL_MS, signal);
      }
    },
  };
}

/** A finished log request's lines: stdout and stderr split separately, then ordered by time. */
function decodeLogs(raw: Buffer, tty: boolean): string[] {
  if (tty) {
    const splitter = new LineSplitter();
    return [...splitter.push(raw), ...splitter.end()];
  }
  const splitters = { stdout: new LineSplitter(), stderr: new LineSplitter() };
  const lines: string[] = [];
  for (const f of new FrameDemuxer().push(raw)) lines.push(...splitters[f.stream].push(f.payload));
  lines.push(...splitters.stdout.end(), ...splitters.stderr.end());
  return lines
    .map((raw, i) => ({ raw, i, time: splitDockerTime(raw).time ?? "" }))
    .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.i - b.i))
    .map((l) => l.raw);
}

/** Follows one container's log stream until it ends (the container stopped) or `signal` fires. */
async function streamLogs(
  c: Dockerode.Container,
  tty: boolean,
  since: string | undefined,
  signal: AbortSignal,
  emit: (raws: string[]) => void,
): Promise<void> {
  const stream = (await c.logs({
    stdout: true,
    stderr: true,
    timestamps: true,
    follow: true,
    ...(since ? { since: dockerSince(since) } : {}),
  })) as Readable;
  const splitters: Record<DockerStream, LineSplitter> = {
    stdout: new LineSplitter(),
    stderr: new LineSplitter(),
  };
  const demux = new FrameDemuxer();
  await new Promise<void>((resolve) => {
    if (signal.aborted) {
      stream.destroy(); // fired while the request was on its way
      return resolve();
    }
    const done = (): void => {
      signal.removeEventListener("abort", stop);
      resolve();
    };
    const stop = (): void => {
      stream.destroy();
      done();
    };
    signal.addEventListener("abort", stop, { once: true });
    stream.on("data", (chunk: Buffer) => {
      if (tty) emit(splitters.stdout.push(chunk));
      else for (const f of demux.push(chunk)) emit(splitters[f.stream].push(f.payload));
    });
    stream.once("end", done);
    stream.once("close", done);
    stream.once("error", done);
  });
  emit([...splitters.stdout.end(), ...splitters.stderr.end()]);
}
