import * as path from "node:path";
import { badInput } from "../../lib/core/errors";
import { processGroupMembers } from "../../lib/runtime/daemon";
import { describePort, listeningPorts, type Listening } from "../../lib/runtime/listening";
import { probeOnce, type ProbeResult } from "../../lib/runtime/probes";
import { formatSpan } from "../../lib/core/display";
import { containerName } from "../../lib/core/names";
import { processEnv } from "../../lib/spec/ports";
import { envctlContainers, envReality, type ServiceReality } from "../../lib/kinds/devenv/reality";
import type { ResolvedEnv, ResolvedService } from "../../lib/spec/model";
import { checkName, envRecord, seams, type CommandSeams } from "../context";
import { jsonDoc, table } from "../ui/output";
import { checkHealth, STATUS_EXIT, type HealthReport } from "../../lib/health/hivesync";

export interface StatusOptions extends CommandSeams {
  name: string;
  json?: boolean;
}

/** Longest a status probe may take, whatever the spec's timeout. */
const PROBE_CAP_MS = 2_000;

interface Row extends ServiceReality {
  health: "healthy" | "unhealthy" | "starting" | "no check" | "-";
  healthDetail?: string;
  ports: Record<string, number>;
  /** A running process's TCP listeners (its process group's); undefined when unknown. */
  listening?: Listening;
  /** How long the running process (or container) has been up. */
  uptimeMs?: number;
  /** Restarts: the supervisor's (a process) or Docker's restart count (a container). */
  restarts?: number;
  /** When the supervisor restarts it next (ms from now). */
  nextRetryMs?: number;
}

/**
 * Every service of one env: should it run, does it, is it healthy (probed now). Exit 0 when
 * everything the desired state runs is running and healthy, 1 otherwise.
 */
export async function status(opts: StatusOptions): Promise<number> {
  const s = seams(opts);
  checkName(opts.name);
  const record = envRecord(s.home, opts.name, "status");
  const env = record.resolved;
  if (!env) throw badInput(`env ${opts.name} has no recorded spec: run \`envctl up ${opts.name}\``);
  const containers = await envctlContainers(env.dockerHost);
  const reality = envReality(env, record.state, containers);
  const byName = new Map(env.services.map((svc) => [svc.name, svc]));
  const rows: Row[] = await Promise.all(
    reality.services.map(async (r): Promise<Row> => {
      const svc = byName.get(r.name)!;
      const ports = Object.fromEntries(svc.ports.map((p) => [String(p.container), p.host]));
      const sup = r.supervised;
      const restarts = {
        ...(sup ? { restarts: sup.totalRestarts } : {}),
        ...(sup?.nextRetryAtMs !== undefined
          ? { nextRetryMs: Math.max(0, sup.nextRetryAtMs - Date.now()) }
          : {}),
      };
      if (!r.running) return { ...r, health: "-", ports, ...restarts };
      const docker =
        containers instanceof Map ? containers.get(env.name)?.get(r.name)?.health : undefined;
      const [h, info] = await Promise.all([
        health(env, svc, docker),
        svc.type === "container" ? containerInfo(env, svc.name) : undefined,
      ]);
      const listening =
        svc.type === "process" && r.pid !== undefined
          ? listeningPorts(processGroupMembers(r.pid) ?? [r.pid])
          : undefined;
      const started = info?.startedAtMs ?? r.startedAtMs;
      return {
        ...r,
        ...h,
        ports,
        ...restarts,
        ...(info ? { pid: info.pid, restarts: info.restartCount } : {}),
        ...(started !== undefined ? { uptimeMs: Math.max(0, Date.now() - started) } : {}),
        ...(listening ? { listening } : {}),
      };
    }),
  );
  const ok =
    reality.warnings.length === 0 &&
    rows.every((r) => !r.expected || r.health === "healthy" || r.health === "no check");
  // A hivesync env also reports what the app's health script does; its status sets the code.
  const app =
    env.hivesync && reality.desired === "warm"
      ? await checkHealth(env.name, env.hivesync.health, env.dockerHost)
      : undefined;
  const code = !ok ? 1 : app ? STATUS_EXIT[app.status] : 0;

  if (opts.json) {
    s.out(
      jsonDoc("status", {
        env: env.name,
        desired: reality.desired,
        state: reality.actual,
        ok,
        warnings: reality.warnings,
        status: record.status,
        worktree: env.worktreeDir,
        services: rows.map((r) => ({
          name: r.name,
          type: r.type,
          expected: r.expected,
          running: r.running,
          crashed: r.crashed,
          pid: r.pid,
          detail: r.detail,
          health: r.health,
          healthDetail: r.healthDetail,
          uptimeMs: r.uptimeMs ?? null,
          restarts: r.restarts ?? null,
          nextRetryMs: r.nextRetryMs ?? null,
          ...(r.supervised
            ? {
                supervisor: {
                  phase: r.supervised.phase,
                  restart: r.supervised.restart,
                  restarts: r.supervised.restarts,
                  healthy: r.supervised.healthy ?? null,
                  reason: r.supervised.reason ?? null,
                  ...(r.supervised.logTail ? { logTail: r.supervised.logTail } : {}),
                },
              }
            : {}),
          ports: r.ports,
          ...(r.type === "process" ? { listening: r.listening?.mine ?? null } : {}),
        })),
        ...(app ? { health: app } : {}),
      }),
    );
    return code;
  }
  const warn = reality.warnings.length > 0 ? ` ⚠  ${reality.warnings.join("; ")}` : "";
  s.out(
    `env ${env.name}: ${reality.actual}${reality.actual !== reality.desired ? ` (wanted ${reality.desired})` : ""}${warn}`,
  );
  s.out(
    table(
      [
        "service",
        "type",
        "should run",
        "running",
        "health",
        "pid",
        "uptime",
        "restarts",
        "ports",
        "detail",
      ],
      rows.map((r) => [
        r.name,
        r.type,
        r.expected ? "yes" : "no",
        r.running === undefined
          ? "?"
          : r.running
            ? "yes"
            : r.supervised?.phase === "failed"
              ? "no (failed)"
              : r.crashed
                ? "no (crashed)"
                : "no",
        r.health +
          (r.healthDetail && r.health !== "healthy" ? `: ${r.healthDetail.slice(0, 60)}` : ""),
        r.running && r.pid ? String(r.pid) : "-",
        r.uptimeMs !== undefined ? formatSpan(r.uptimeMs) : "-",
        restartsCell(r),
        portsCell(byName.get(r.name)!, r),
        r.supervised?.reason && !r.running ? r.supervised.reason.slice(0, 80) : r.detail,
      ]),
    ),
  );
  // A service the supervisor gave up on: why, and its last log lines.
  for (const r of rows) {
    if (r.supervised?.phase !== "failed" || !r.supervised.logTail) continue;
    s.out(`--- ${r.name} failed: ${r.supervised.reason ?? ""}; last lines of ${r.name}.log ---`);
    s.out(r.supervised.logTail);
  }
  if (app) s.out(healthLines(app).join("\n"));
  if (record.status !== "ready") s.out(`last operation: ${record.status}`);
  return code;
}

/** `2`, `2 (next in 4s)`, `-` without a supervisor; the policy when it is not the default. */
function restartsCell(r: Row): string {
  if (r.restarts === undefined) return "-";
  const next = r.nextRetryMs !== undefined ? ` (next in ${formatSpan(r.nextRetryMs)})` : "";
  return `${r.restarts}${next}`;
}

async function containerInfo(
  env: ResolvedEnv,
  service: string,
): Promise<{ pid: number; startedAtMs?: number; restartCount: number } | undefined> {
  const { inspectContainer } = await import("../../lib/docker/inspect");
  try {
    return await inspectContainer(containerName(env.name, service), env.dockerHost);
  } catch {
    return undefined; // gone meanwhile, or the engine failed: the table says what it can
  }
}

/** The health report as the document's health script prints it. */
export function healthLines(h: HealthReport): string[] {
  const check = (c: { ok: boolean; detail: string } | undefined): string =>
    c ? (c.ok ? "OK" : `FAIL (${c.detail})`) : "not checked";
  const out = [`Postgres: ${check(h.postgres)}`, `Redis: ${check(h.redis)}`];
  for (const [q, n] of Object.entries(h.queues)) out.push(`Queue ${q}: ${n}`);
  out.push(
    h.workers.length
      ? `Worker heartbeats: ${h.workers.map((w) => `${w.id} ${w.ageSeconds}s ago`).join(", ")}`
      : "Worker heartbeats: none",
  );
  out.push(`Overall: ${h.status}${h.reasons.length ? ` (${h.reasons.join("; ")})` : ""}`);
  return out;
}

/**
 * Host ports; a process is not port-mapped, so each of its tcp ports is checked against what
 * its processes listen on (`10000 (not listening; it listens on 8080)`).
 */
function portsCell(svc: ResolvedService, r: Row): string {
  if (svc.ports.length === 0) return "-";
  return svc.ports
    .map((p) =>
      svc.type === "process" && r.running && p.protocol === "tcp"
        ? describePort(p.host, r.listening)
        : `${p.host}${p.protocol === "udp" ? "/udp" : ""}`,
    )
    .join(" ");
}

async function health(
  env: ResolvedEnv,
  svc: ResolvedService,
  dockerHealth: string | undefined,
): Promise<Pick<Row, "health" | "healthDetail">> {
  const h = svc.health;
  if (!h) return { health: "no check" };
  if (svc.type === "container" && h.kind === "command") {
    if (dockerHealth === "healthy" || dockerHealth === "unhealthy" || dockerHealth === "starting") {
      return { health: dockerHealth };
    }
    return { health: "unhealthy", healthDetail: "no health status from Docker" };
  }
  const probe: ProbeResult = await probeOnce(
    { ...h, timeoutMs: Math.min(h.timeoutMs || PROBE_CAP_MS, PROBE_CAP_MS) },
    svc.ports,
    {
      cwd: svc.type === "process" ? path.join(env.worktreeDir, svc.dir) : env.worktreeDir,
      envFile: path.join(env.stateDir, "env.sh"),
      ...(svc.type === "process" ? { env: processEnv(svc) } : {}),
    },
  );
  return probe.ok
    ? { health: "healthy" }
    : { health: "unhealthy", ...(probe.detail ? { healthDetail: probe.detail } : {}) };
}
