/**
 * Is a host reachable, and what does it have: the checks behind `envctl host check` and
 * `host detect`. Parsing is pure and exported for tests; the commands run the same shell script
 * locally (localhost) or over SSH, so both paths share one parser.
 */
import { spawn } from "node:child_process";
import { probeHttp, probeTcp } from "../runtime/probes";
import type { DeviceCapabilities, GpuDevice, HostRecord } from "./catalog";
import { sshFailure, sshLabel, sshRun, type SshOptions, type SshTarget } from "./ssh";

/** The host envctl registers for this machine; probed through the local Docker socket. */
export const LOCALHOST_ID = "localhost";

/** SSH coordinates of a host, when it has them (a host without ssh_host is reached directly). */
export function sshTarget(h: HostRecord): SshTarget | undefined {
  if (h.sshHost === null) return undefined;
  return { host: h.sshHost, port: h.sshPort ?? 22, user: h.sshUser };
}

/** This machine: the registered localhost without SSH coordinates. */
export function isLocal(h: HostRecord): boolean {
  return h.id === LOCALHOST_ID && h.sshHost === null;
}

// ---- reachability ----------------------------------------------------------------------------

export type ProbeVia = "docker" | "ssh" | "tcp";

export interface ProbeResult {
  id: string;
  online: boolean;
  via: ProbeVia;
  /** Why the host is offline; null when online. */
  reason: string | null;
  /** What answered (or a caveat about it), for the human table. */
  detail: string | null;
  elapsedMs: number;
}

export interface ProbeDeps {
  /** Per-host limit for the whole probe. */
  timeoutMs: number;
  /** SSH settings for hosts with SSH coordinates (timeoutMs is taken from above). */
  ssh: Omit<SshOptions, "timeoutMs" | "input">;
  /** Pings the local Docker engine; rejects with a worded reason. */
  dockerPing: () => Promise<void>;
}

/**
 * One host's reachability: the local Docker engine for localhost, `ssh ... true` for SSH hosts,
 * else a TCP connect to host:port followed by GET /_ping (the Docker API) when it accepts.
 * Never rejects: every failure is an offline result with a reason.
 */
export async function probeHost(h: HostRecord, deps: ProbeDeps): Promise<ProbeResult> {
  const start = Date.now();
  const via: ProbeVia = isLocal(h) ? "docker" : sshTarget(h) ? "ssh" : "tcp";
  const done = (r: { online: boolean; reason?: string; detail?: string }): ProbeResult => ({
    id: h.id,
    online: r.online,
    via,
    reason: r.online ? null : (r.reason ?? "unreachable"),
    detail: r.detail ?? null,
    elapsedMs: Date.now() - start,
  });
  const run = async (): Promise<ProbeResult> => {
    try {
      if (via === "docker") {
        await deps.dockerPing();
        return done({ online: true, detail: "local Docker engine answers" });
      }
      const target = sshTarget(h);
      if (target) {
        const r = await sshRun(target, "true", { ...deps.ssh, timeoutMs: deps.timeoutMs });
        if (r.code === 0) return done({ online: true, detail: `ssh ${sshLabel(target)}` });
        return done({ online: false, reason: sshFailure(target, r, deps.timeoutMs) });
      }
      return done(await probeDirect(h.host, h.port, deps.timeoutMs));
    } catch (err) {
      return done({ online: false, reason: err instanceof Error ? err.message : String(err) });
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<ProbeResult>((resolve) => {
    // A little past the probe's own limits, so theirs (with better reasons) fire first.
    timer = setTimeout(
      () => resolve(done({ online: false, reason: `no answer within ${deps.timeoutMs}ms` })),
      deps.timeoutMs + 1000,
    );
  });
  try {
    return await Promise.race([run(), limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function probeDirect(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ online: boolean; reason?: string; detail?: string }> {
  const started = Date.now();
  if (!(await probeTcp(host, port, timeoutMs))) {
    return { online: false, reason: `nothing accepts TCP connections on ${host}:${port}` };
  }
  // Reachable is what online means; whether the Docker API answers is reported alongside.
  const left = Math.max(500, timeoutMs - (Date.now() - started));
  const ping = await probeHttp(`http://${hostForUrl(host)}:${port}/_ping`, left);
  return ping.ok
    ? { online: true, detail: "Docker API answers /_ping" }
    : { online: true, detail: `TCP open, but no Docker API: ${ping.error ?? "no answer"}` };
}

function hostForUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

// ---- device detection ------------------------------------------------------------------------

/** A host whose devices could not be read (no answer, or output that does not parse). */
export class DetectError extends Error {
  override readonly name = "DetectError";
}

/**
 * Printed in sections so banners or profile noise before the first marker are ignored.
 * nvidia-smi runs only when it exists; its failure (no driver) is reported, not fatal.
 */
export const DETECT_SCRIPT = `
echo '@@nproc'
nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null
echo '@@meminfo'
cat /proc/meminfo 2>/dev/null
echo '@@pages'
echo "$(getconf _PHYS_PAGES 2>/dev/null) $(getconf PAGESIZE 2>/dev/null)"
if command -v nvidia-smi >/dev/null 2>&1; then
  out=$(nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader 2>&1)
  if [ $? -eq 0 ]; then echo '@@gpus'; else echo '@@gpu-error'; fi
  printf '%s\\n' "$out"
fi
echo '@@end'
`;

/** Splits marker-delimited output into sections; text before the first marker is dropped. */
export function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  let lines: string[] = [];
  const flush = (): void => {
    if (current !== undefined) out.set(current, lines.join("\n"));
  };
  for (const line of text.split(/\r?\n/)) {
    const m = /^@@([a-z-]+)$/.exec(line.trim());
    if (m) {
      flush();
      current = m[1]!;
      lines = [];
    } else if (current !== undefined) {
      lines.push(line);
    }
  }
  flush();
  return out;
}

/** `nproc` (or `getconf _NPROCESSORS_ONLN`) output: a positive integer on the first line. */
export function parseNproc(text: string): number {
  const first = text.trim().split(/\s+/)[0] ?? "";
  const n = /^\d+$/.test(first) ? Number(first) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new DetectError(`nproc: expected a positive integer, got "${text.trim()}"`);
  }
  return n;
}

const GIB = 1024 ** 3;

/** MemTotal of /proc/meminfo, in whole GB (GiB, rounded). */
export function parseMeminfo(text: string): number {
  const m = /^MemTotal:\s*(\d+)\s*(kB)?\s*$/im.exec(text);
  if (!m) throw new DetectError("/proc/meminfo: no MemTotal line");
  return Math.round((Number(m[1]) * 1024) / GIB);
}

/** `getconf _PHYS_PAGES` and `getconf PAGESIZE` on one line, in whole GB. */
export function parsePhysPages(text: string): number {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!m) throw new DetectError(`getconf: expected "<pages> <page size>", got "${text.trim()}"`);
  return Math.round((Number(m[1]) * Number(m[2])) / GIB);
}

/**
 * `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader`: one line per GPU,
 * e.g. "0, NVIDIA GeForce RTX 4090, 24564 MiB" (vramGb 24). Names may hold commas, so the
 * index is the first field and the memory the last. Memory nvidia-smi cannot read ("[N/A]")
 * counts as 0.
 */
export function parseNvidiaSmi(text: string): GpuDevice[] {
  const gpus: GpuDevice[] = [];
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  lines.forEach((line, i) => {
    if (line === "") return;
    const fields = line.split(",").map((f) => f.trim());
    const where = `nvidia-smi line ${i + 1}`;
    if (fields.length < 3) {
      throw new DetectError(`${where}: expected "index, name, memory.total", got "${line}"`);
    }
    const index = Number(fields[0]);
    if (!/^\d+$/.test(fields[0]!) || !Number.isSafeInteger(index)) {
      throw new DetectError(`${where}: index "${fields[0]}" is not a number`);
    }
    const name = fields.slice(1, -1).join(", ");
    if (name === "") throw new DetectError(`${where}: empty GPU name`);
    gpus.push({ index, name, vramGb: parseVram(fields[fields.length - 1]!, where) });
  });
  return gpus;
}

function parseVram(field: string, where: string): number {
  if (/^\[.*\]$/.test(field)) return 0; // [N/A], [Insufficient Permissions]
  const m = /^(\d+(?:\.\d+)?)\s*(MiB|GiB|MB|GB)?$/i.exec(field);
  if (!m) throw new DetectError(`${where}: memory "${field}" is not like "24564 MiB"`);
  const value = Number(m[1]);
  const unit = (m[2] ?? "MiB").toLowerCase();
  return Math.round(unit === "gib" || unit === "gb" ? value : value / 1024);
}

export interface Detection {
  devices: DeviceCapabilities;
  /** What could not be read (no nvidia driver, no meminfo); the rest is still stored. */
  warnings: string[];
}

/** Reads the output of {@link DETECT_SCRIPT}. Throws when it holds no CPU information at all. */
export function parseDetectOutput(text: string): Detection {
  const s = sections(text);
  if (!s.has("end")) {
    throw new DetectError("the detection script did not run to its end (no @@end marker)");
  }
  const warnings: string[] = [];
  const cores = parseNproc(s.get("nproc") ?? "");
  let ramGb: number;
  const meminfo = s.get("meminfo") ?? "";
  if (meminfo.trim() !== "") {
    ramGb = parseMeminfo(meminfo);
  } else {
    ramGb = parsePhysPages(s.get("pages") ?? "");
  }
  let gpus: GpuDevice[] = [];
  if (s.has("gpus")) gpus = parseNvidiaSmi(s.get("gpus")!);
  if (s.has("gpu-error")) {
    const why = (s.get("gpu-error") ?? "").trim().split("\n")[0] || "failed";
    warnings.push(`nvidia-smi is installed but failed: ${why}`);
  }
  return { devices: { cpu: { cores, ramGb }, gpus }, warnings };
}

/** Runs a shell script somewhere and returns its output. */
export type ScriptRunner = (
  script: string,
) => Promise<{ code: number | null; stdout: string; stderr: string; failure?: string }>;

/** Runs the script with this machine's `sh`. */
export function localRunner(timeoutMs: number): ScriptRunner {
  return (script) =>
    new Promise((resolve, reject) => {
      const child = spawn("sh", ["-s"], { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.stdin.on("error", () => undefined);
      child.stdin.end(script);
      child.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({
          code,
          stdout,
          stderr,
          failure: code === null ? `sh: no answer within ${timeoutMs}ms` : undefined,
        });
      });
    });
}

/** Runs the script with `sh -s` on the target, fed through ssh's stdin (no quoting at all). */
export function sshRunner(target: SshTarget, opts: SshOptions): ScriptRunner {
  return async (script) => {
    const r = await sshRun(target, "sh -s", { ...opts, input: script });
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const failed = r.code === null || r.code === 255 || r.timedOut;
    return { ...r, failure: failed ? sshFailure(target, r, timeoutMs) : undefined };
  };
}

/** CPU cores, RAM and GPUs of wherever `run` runs. */
export async function detectDevices(run: ScriptRunner): Promise<Detection> {
  const r = await run(DETECT_SCRIPT);
  if (r.failure) throw new DetectError(r.failure);
  try {
    return parseDetectOutput(r.stdout);
  } catch (err) {
    const stderr = r.stderr.trim();
    if (err instanceof DetectError && stderr) {
      throw new DetectError(`${err.message} (stderr: ${stderr.split("\n").pop()})`);
    }
    throw err;
  }
}

/** "8 cores, 31 GB, 1 GPU"; "not detected" before the first `host detect`. */
export function summarizeDevices(d: DeviceCapabilities | null): string {
  if (d === null) return "not detected";
  const parts: string[] = [];
  if (d.cpu) {
    parts.push(plural(d.cpu.cores, "core"), `${d.cpu.ramGb} GB`);
  }
  parts.push(d.gpus.length === 0 ? "no GPU" : plural(d.gpus.length, "GPU"));
  return parts.join(", ");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// ---- heartbeat ages --------------------------------------------------------------------------

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "60s", "5m", "1.5h", "2d" -> milliseconds; undefined for anything else or <= 0. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

/** How long ago a heartbeat was: "12s ago", "5m ago", "3h ago", "2d ago"; "never" for none. */
export function formatAge(thenMs: number | null, nowMs: number = Date.now()): string {
  if (thenMs === null) return "never";
  const s = Math.max(0, Math.floor((nowMs - thenMs) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
