/**
 * The hivesync health check, as the document's tools/hivesync-health.py reports it: Postgres
 * OK, Redis OK, queue depths, worker heartbeat ages, and an overall ok / degraded / fail. The
 * checks run inside the env's own postgres and redis containers (`docker exec`), so they work
 * the same on a local engine and on a remote one, and need nothing installed on the host.
 */
import { containerName } from "../core/names";
import type { DockerEndpoint } from "../docker/client";
import { execIn } from "../docker/exec";
import type { HealthSpec } from "../spec/model";

export type Overall = "ok" | "degraded" | "fail";

/** Exit code of `envctl status` per overall status (0 ok, 3 degraded, 1 fail). */
export const STATUS_EXIT: Record<Overall, number> = { ok: 0, degraded: 3, fail: 1 };

export interface CheckResult {
  ok: boolean;
  /** What failed, or what answered (`PONG`). */
  detail: string;
}

/** What the containers answered, before it is judged. */
export interface HealthRaw {
  postgres?: CheckResult;
  redis?: CheckResult & {
    /** Redis's clock (unix seconds): heartbeat ages are measured on the clock that wrote them. */
    now?: number;
    queues?: Record<string, number>;
    heartbeats?: Record<string, number>;
  };
}

export interface HealthReport {
  status: Overall;
  postgres?: CheckResult;
  redis?: CheckResult;
  queues: Record<string, number>;
  workers: { id: string; ageSeconds: number }[];
  /** Why the status is not ok, one sentence each. */
  reasons: string[];
}

/** Judges what the containers answered (pure). */
export function judge(raw: HealthRaw, spec: HealthSpec): HealthReport {
  const reasons: string[] = [];
  let status: Overall = "ok";
  const degrade = (why: string): void => {
    reasons.push(why);
    if (status === "ok") status = "degraded";
  };
  const failWith = (why: string): void => {
    reasons.push(why);
    status = "fail";
  };
  if (spec.postgres && !raw.postgres?.ok)
    failWith(`postgres: ${raw.postgres?.detail ?? "not checked"}`);
  if (spec.redis && !raw.redis?.ok) failWith(`redis: ${raw.redis?.detail ?? "not checked"}`);
  const queues = raw.redis?.ok ? (raw.redis.queues ?? {}) : {};
  const workers: HealthReport["workers"] = [];
  if (spec.redis && raw.redis?.ok) {
    for (const [q, depth] of Object.entries(queues)) {
      if (depth > spec.maxQueueDepth)
        degrade(`queue ${q} holds ${depth} jobs (more than ${spec.maxQueueDepth})`);
    }
    const now = raw.redis.now ?? Math.floor(Date.now() / 1000);
    const prefix = spec.heartbeats.replace(/\*.*$/, "");
    for (const [key, at] of Object.entries(raw.redis.heartbeats ?? {}).sort()) {
      workers.push({
        id: key.startsWith(prefix) ? key.slice(prefix.length) : key,
        ageSeconds: Math.max(0, now - at),
      });
    }
    const maxAge = spec.maxHeartbeatAgeMs / 1000;
    if (workers.length === 0) degrade("no worker heartbeat");
    for (const w of workers) {
      if (w.ageSeconds > maxAge)
        degrade(`worker ${w.id}: last heartbeat ${w.ageSeconds}s ago (more than ${maxAge}s)`);
    }
  }
  return {
    status,
    ...(raw.postgres ? { postgres: raw.postgres } : {}),
    ...(raw.redis ? { redis: { ok: raw.redis.ok, detail: raw.redis.detail } } : {}),
    queues,
    workers,
    reasons,
  };
}

const PSQL = `psql -X -q -U "\${POSTGRES_USER:-postgres}" -d "\${POSTGRES_DB:-\${POSTGRES_USER:-postgres}}" -tAc 'select 1'`;

const REDIS = [
  'if [ -n "${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH="$REDIS_PASSWORD"; fi',
  "redis-cli ping || exit 1",
  "redis-cli time | head -n 1",
  'pattern="$1"; shift',
  'for q in "$@"; do printf "queue %s %s\\n" "$q" "$(redis-cli llen "$q")"; done',
  'redis-cli --scan --pattern "$pattern" | while read -r k; do printf "hb %s %s\\n" "$k" "$(redis-cli get "$k")"; done',
].join("\n");

const lastLine = (s: string): string => s.trim().split("\n").slice(-1)[0]?.trim() || "no output";

/** Parses the redis script's output (pure). */
export function parseRedis(output: string): NonNullable<HealthRaw["redis"]> {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines[0] !== "PONG") return { ok: false, detail: lastLine(output) };
  const queues: Record<string, number> = {};
  const heartbeats: Record<string, number> = {};
  for (const l of lines.slice(2)) {
    const [what, key, value] = l.split(/\s+/);
    if (what === "queue" && key) queues[key] = Number(value) || 0;
    if (what === "hb" && key && value !== undefined && Number.isFinite(Number(value)))
      heartbeats[key] = Number(value);
  }
  const now = Number(lines[1]);
  return { ok: true, detail: "PONG", ...(Number.isFinite(now) ? { now } : {}), queues, heartbeats };
}

/** Runs the checks against env `env`'s containers on `host`. */
export async function checkHealth(
  env: string,
  spec: HealthSpec,
  host?: DockerEndpoint,
): Promise<HealthReport> {
  const run = async (svc: string, cmd: string[]): Promise<{ code: number; output: string }> => {
    try {
      return await execIn(containerName(env, svc), cmd, { host, timeoutMs: 10_000 });
    } catch (err) {
      return { code: -1, output: err instanceof Error ? err.message : String(err) };
    }
  };
  const [pg, redis] = await Promise.all([
    spec.postgres ? run(spec.postgres, ["sh", "-c", PSQL]) : undefined,
    spec.redis
      ? run(spec.redis, ["sh", "-c", REDIS, "sh", spec.heartbeats, ...spec.queues])
      : undefined,
  ]);
  const raw: HealthRaw = {};
  if (pg) {
    raw.postgres =
      pg.code === 0 && pg.output.trim().endsWith("1")
        ? { ok: true, detail: "OK" }
        : { ok: false, detail: lastLine(pg.output) };
  }
  if (redis)
    raw.redis =
      redis.code === 0 ? parseRedis(redis.output) : { ok: false, detail: lastLine(redis.output) };
  return judge(raw, spec);
}

/**
 * Checks until the env is ok or `timeoutMs` passes; the last report is returned (a deploy
 * fails on `fail`, and passes `degraded` with its reasons).
 */
export async function waitHealthy(
  env: string,
  spec: HealthSpec,
  host?: DockerEndpoint,
  timeoutMs = spec.timeoutMs,
): Promise<HealthReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await checkHealth(env, spec, host);
    if (report.status === "ok" || Date.now() >= deadline) return report;
    await new Promise((r) => setTimeout(r, 500));
  }
}
