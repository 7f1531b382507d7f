/**
 * One health probe of a service from the host: http/tcp against its host port, or a command.
 * Process services run their command check on the host (in the service's directory, env.sh
 * sourced); container services' command checks run inside the container through Docker.
 */
import { spawn } from "node:child_process";
import { probeHttp, probeTcp } from "./health";
import type { HealthCheck, ResolvedPort } from "./spec/model";

export interface ProbeResult {
  ok: boolean;
  detail?: string;
}

/** The host port a http/tcp check targets (`health.port` is a container/nominal port). */
export function probedPort(health: HealthCheck, ports: ResolvedPort[]): number | undefined {
  const want = health.port ?? ports[0]?.container;
  return ports.find((p) => p.container === want && p.protocol === "tcp")?.host;
}

export async function probeOnce(
  health: HealthCheck,
  ports: ResolvedPort[],
  host: { cwd: string; envFile?: string },
): Promise<ProbeResult> {
  if (health.kind === "command")
    return probeCommand(health.command ?? "true", host, health.timeoutMs);
  const port = probedPort(health, ports);
  if (port === undefined) return { ok: false, detail: "no published port to probe" };
  if (health.kind === "tcp") {
    const ok = await probeTcp("127.0.0.1", port, health.timeoutMs);
    return ok ? { ok } : { ok, detail: `nothing accepts connections on port ${port}` };
  }
  const res = await probeHttp(`http://127.0.0.1:${port}${health.path ?? "/"}`, health.timeoutMs);
  return res.ok ? { ok: true } : { ok: false, detail: res.error ?? `HTTP ${res.status}` };
}

/** Runs `sh -c command` on the host; ok on exit 0 within the timeout. */
export function probeCommand(
  command: string,
  host: { cwd: string; envFile?: string },
  timeoutMs: number,
): Promise<ProbeResult> {
  const script = host.envFile
    ? `. '${host.envFile.replace(/'/g, `'\\''`)}' >/dev/null 2>&1 || exit 1\n${command}`
    : command;
  return new Promise((resolve) => {
    let out = "";
    const child = spawn("/bin/sh", ["-c", script], {
      cwd: host.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            try {
              process.kill(-child.pid!, "SIGKILL");
            } catch {
              // gone already
            }
          }, timeoutMs)
        : undefined;
    const keep = (b: Buffer): void => {
      out = (out + b.toString()).slice(-500);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: err.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true });
      else {
        const why = signal ? `timed out after ${timeoutMs}ms` : `exit ${code}`;
        resolve({
          ok: false,
          detail: `\`${command}\`: ${why}${out.trim() ? `: ${out.trim()}` : ""}`,
        });
      }
    });
  });
}
