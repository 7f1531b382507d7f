/**
 * `envctl logs`: the pure parts (line splitting, per-service prefixes and colours, Docker frames
 * and timestamps, history merge) and the log-file reader and follower. Process services append
 * to `<stateDir>/<service>.log`, which lib/runtime/daemon.ts truncates in place when it passes 100 MB;
 * the follower notices and carries on after what it already printed.
 */
import * as fs from "node:fs";
import { StringDecoder } from "node:string_decoder";
import pc from "picocolors";
import { readRange } from "../../lib/runtime/daemon";

export { colorEnabled } from "./color";

/** Prefix colours, given to services in spec order and cycled when there are more services. */
export const PALETTE = [
  "cyan",
  "yellow",
  "green",
  "magenta",
  "blue",
  "cyanBright",
  "yellowBright",
  "greenBright",
  "magentaBright",
  "blueBright",
] as const;

export interface Prefixer {
  /** `name | text`, the name padded to the longest service name and coloured. */
  line(service: string, text: string): string;
  /** Same prefix, dimmed text: envctl's own notes ("(no output yet)"). */
  note(service: string, text: string): string;
}

/** Prefixes for `services` (spec order decides the colours); the line text is kept as is. */
export function prefixer(services: string[], color: boolean): Prefixer {
  const c = pc.createColors(color);
  const width = Math.max(0, ...services.map((s) => s.length));
  const paint = new Map(services.map((s, i) => [s, c[PALETTE[i % PALETTE.length]!]]));
  const head = (service: string): string =>
    (paint.get(service) ?? ((t: string) => t))(`${service.padEnd(width)} |`);
  return {
    line: (service, text) => (text === "" ? head(service) : `${head(service)} ${text}`),
    note: (service, text) => `${head(service)} ${c.dim(text)}`,
  };
}

/**
 * What a terminal would show of one line: a CRLF's `\r` goes, and of `\r`-separated progress
 * updates only the last is kept (an earlier one would be overwritten, and so would the prefix).
 */
export function displayText(line: string): string {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  const cr = text.lastIndexOf("\r");
  return cr >= 0 ? text.slice(cr + 1) : text;
}

/** Cuts a byte stream into lines; a line split across chunks (or a UTF-8 character) is joined. */
export class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";

  /** The lines completed by `chunk`, without their `\n`. */
  push(chunk: Buffer | string): string[] {
    this.pending += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    const lines = this.pending.split("\n");
    this.pending = lines.pop() ?? "";
    return lines;
  }

  /** At the end of the stream: the unterminated last line, if there is one. */
  end(): string[] {
    const rest = this.pending + this.decoder.end();
    this.pending = "";
    return rest === "" ? [] : [rest];
  }
}

export type DockerStream = "stdout" | "stderr";

/**
 * Reads Docker's multiplexed log stream (non-TTY containers): frames of an 8-byte header (stream
 * type, 3 zero bytes, big-endian payload size) and a payload. Headers and payloads may be split
 * across chunks.
 */
export class FrameDemuxer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { stream: DockerStream; payload: Buffer }[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: { stream: DockerStream; payload: Buffer }[] = [];
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const stream = this.buf[0] === 2 ? "stderr" : "stdout";
      frames.push({ stream, payload: this.buf.subarray(8, 8 + size) });
      this.buf = this.buf.subarray(8 + size);
    }
    return frames;
  }
}

/** One line of history or of a followed stream. */
export interface LogLine {
  service: string;
  text: string;
  /** UTC time with nanoseconds, `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn`: sorts as a string. Docker only. */
  time?: string;
}

const DOCKER_TIME = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z /;

/**
 * Splits the RFC 3339 prefix `timestamps: true` puts on each Docker log line. Docker trims
 * trailing zeros of the fraction, so it is padded to 9 digits to compare as a string.
 */
export function splitDockerTime(line: string): { time?: string; text: string } {
  const m = DOCKER_TIME.exec(line);
  if (!m) return { text: line };
  return { time: `${m[1]}.${(m[2] ?? "").padEnd(9, "0")}`, text: line.slice(m[0].length) };
}

/** A `time` from splitDockerTime as the `since` Docker's API takes: `seconds.nanoseconds`. */
export function dockerSince(time: string): string {
  const seconds = Date.parse(`${time.slice(0, 19)}Z`) / 1000;
  return `${seconds}.${time.slice(20)}`;
}

/**
 * History of several services, one group per service in spec order. When every line carries a
 * time (Docker's), they are merged by time, ties in spec order; log files carry none, so any
 * group without times keeps the output per service, in spec order.
 */
export function mergeHistory(groups: LogLine[][]): LogLine[] {
  const all = groups.flat();
  if (!all.every((l) => l.time !== undefined)) return all;
  // Array.prototype.sort is stable: equal times keep spec order.
  return all.sort((a, b) => (a.time! < b.time! ? -1 : a.time! > b.time! ? 1 : 0));
}

/** The last `lines` lines of `text`; a trailing newline does not start a line (like `tail -n`). */
export function lastLines(text: string, lines: number): string[] {
  if (lines <= 0 || text === "") return [];
  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  const all = body.split("\n");
  return all.slice(Math.max(0, all.length - lines));
}

const TRUNCATION_MARKER = "--- envctl: log truncated";
/** An overlap shorter than this is too likely to be a coincidence to skip on. */
const MIN_OVERLAP = 16;

/**
 * Where to carry on in a log truncated in place, given its first bytes (`head`) and the last
 * bytes read before (`recent`). truncateLogIfLarge keeps a marker line plus the old log's tail,
 * from a line start: that tail either contains `recent` or is a suffix of it. Lines past it are
 * new. Without a match (someone else emptied the file) everything after the marker is new:
 * printing a line twice beats losing one.
 */
export function resumeAfterTruncation(
  head: Buffer,
  recent: Buffer,
): { marker?: string; offset: number } {
  let start = 0;
  let marker: string | undefined;
  const nl = head.indexOf(0x0a);
  if (nl >= 0 && head.subarray(0, nl).toString("utf8").startsWith(TRUNCATION_MARKER)) {
    marker = head.subarray(0, nl).toString("utf8");
    start = nl + 1;
  }
  const body = head.subarray(start);
  if (recent.length >= MIN_OVERLAP) {
    const at = body.indexOf(recent);
    if (at >= 0) return { marker, offset: start + at + recent.length };
    for (let j = Math.min(recent.length - 1, body.length); j >= MIN_OVERLAP; j--) {
      if (body[j - 1] !== 0x0a || recent[recent.length - j - 1] !== 0x0a) continue;
      if (body.subarray(0, j).equals(recent.subarray(recent.length - j))) {
        return { marker, offset: start + j };
      }
    }
  }
  return { marker, offset: start };
}

/** Where a log file stood when its history was read: following starts there. */
export interface FilePosition {
  ino: number;
  end: number;
}

/**
 * The last `lines` lines of a log file and where it ended at that moment, read backwards in
 * chunks so a 100 MB log costs what the lines cost. Undefined when the file does not exist.
 */
export function readTail(
  file: string,
  lines: number,
): { lines: string[]; at: FilePosition } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    const at = { ino: st.ino, end: st.size };
    let start = st.size;
    let buf = Buffer.alloc(0);
    // Stop once the buffer holds lines+1 newlines (not counting a trailing one): the first
    // line in it may be cut, the `lines` after it are whole.
    while (start > 0 && newlines(buf) - (buf.at(-1) === 0x0a ? 1 : 0) < lines) {
      const from = Math.max(0, start - CHUNK);
      buf = Buffer.concat([readRange(fd, from, start - from), buf]);
      start = from;
    }
    return { lines: lastLines(buf.toString("utf8"), lines), at };
  } finally {
    fs.closeSync(fd);
  }
}

export interface FollowFileOptions {
  /** Where reading starts (from readTail); a file that is missing or replaced is read from 0. */
  from?: FilePosition;
  onData: (chunk: Buffer) => void;
  signal: AbortSignal;
  /** @default 200 */
  pollMs?: number;
}

const CHUNK = 64 * 1024;
/** How much of its end the follower remembers, to find its place after a truncation. */
const RECENT_BYTES = 4096;
/** truncateLogIfLarge keeps at most 1 MB plus a marker line. */
const HEAD_BYTES = 2 * 1024 * 1024;

/**
 * Like `tail -F`, until `signal` fires: polls the file, passes on what was appended, waits for a
 * missing file to appear, starts over on a replaced one (new inode) and, when the file shrank
 * (truncated in place), passes on the marker line and what follows the part already read.
 */
export async function followFile(file: string, opts: FollowFileOptions): Promise<void> {
  let ino = opts.from?.ino;
  let pos = opts.from?.end ?? 0;
  // What history already printed counts as read: a truncation right away must not repeat it.
  let recent = opts.from ? seedRecent(file, opts.from) : Buffer.alloc(0);
  const emit = (chunk: Buffer): void => {
    if (chunk.length === 0) return;
    opts.onData(chunk);
    recent = Buffer.concat([recent, chunk]);
    if (recent.length > RECENT_BYTES) recent = recent.subarray(recent.length - RECENT_BYTES);
  };
  while (!opts.signal.aborted) {
    const fd = openIfThere(file);
    if (fd === undefined) ino = undefined;
    else {
      try {
        const st = fs.fstatSync(fd);
        if (st.ino !== ino) {
          ino = st.ino; // appeared, or replaced: all of it is new
          pos = 0;
        } else if (st.size < pos) {
          const head = readRange(fd, 0, Math.min(st.size, HEAD_BYTES));
          const resume = resumeAfterTruncation(head, recent);
          if (resume.marker !== undefined) emit(Buffer.from(`${resume.marker}\n`));
          pos = resume.offset;
        }
        for (let chunk = readRange(fd, pos, CHUNK); chunk.length > 0;) {
          pos += chunk.length;
          emit(chunk);
          chunk = opts.signal.aborted ? Buffer.alloc(0) : readRange(fd, pos, CHUNK);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    await sleep(opts.pollMs ?? 200, opts.signal);
  }
}

/** Resolves after `ms`, or as soon as `signal` fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function seedRecent(file: string, at: FilePosition): Buffer {
  const fd = openIfThere(file);
  if (fd === undefined) return Buffer.alloc(0);
  try {
    if (fs.fstatSync(fd).ino !== at.ino) return Buffer.alloc(0);
    const from = Math.max(0, at.end - RECENT_BYTES);
    return readRange(fd, from, at.end - from);
  } finally {
    fs.closeSync(fd);
  }
}

function openIfThere(file: string): number | undefined {
  try {
    return fs.openSync(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function newlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}
