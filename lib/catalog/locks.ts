/**
 * One operation per env at a time: the `env_locks` table names the envctl process running an
 * operation on an env (verb, pid, its start time, boot and host), so a second verb can say who
 * is busy, and a verb that finds a holder which died can take the lock over and heal what it
 * left (lib/engine/heal.ts). Taking and taking over run in one IMMEDIATE transaction: two
 * processes never both hold, nor both take over the same dead holder.
 */
import type Database from "better-sqlite3";
import type { ProcessId } from "../runtime/processes";

export interface LockHolder extends ProcessId {
  /** Random per operation; the engine's processes carry it (lib/runtime/processes.ts). */
  token: string;
  verb: string;
  acquiredAtMs: number;
}

export type LockResult =
  | { acquired: true; /** The dead holder this lock was taken from. */ tookOver?: LockHolder }
  | { acquired: false; holder: LockHolder };

interface LockRow {
  env: string;
  token: string;
  verb: string;
  pid: number;
  start_ticks: number | null;
  boot_id: string | null;
  host: string;
  acquired_at_ms: number;
}

function holderOf(row: LockRow): LockHolder {
  const h: LockHolder = {
    token: row.token,
    verb: row.verb,
    pid: row.pid,
    host: row.host,
    acquiredAtMs: row.acquired_at_ms,
  };
  if (row.start_ticks !== null) h.startTicks = row.start_ticks;
  if (row.boot_id !== null) h.bootId = row.boot_id;
  return h;
}

export class EnvLocks {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    this.stmts = {
      get: db.prepare<[string], LockRow>("SELECT * FROM env_locks WHERE env = ?"),
      all: db.prepare<[], LockRow>("SELECT * FROM env_locks ORDER BY env"),
      put: db.prepare<Record<string, unknown>>(
        `INSERT OR REPLACE INTO env_locks
           (env, token, verb, pid, start_ticks, boot_id, host, acquired_at_ms)
         VALUES (@env, @token, @verb, @pid, @startTicks, @bootId, @host, @acquiredAtMs)`,
      ),
      release: db.prepare<[string, string]>("DELETE FROM env_locks WHERE env = ? AND token = ?"),
    };
  }

  /**
   * Takes the env's lock for `me`, unless a holder `isDead` does not call dead holds it. A dead
   * holder's lock is taken over and returned as `tookOver`, for the caller to heal.
   */
  acquire(env: string, me: LockHolder, isDead: (holder: LockHolder) => boolean): LockResult {
    return this.db
      .transaction((): LockResult => {
        const row = this.stmts.get.get(env);
        const current = row && holderOf(row);
        if (current && current.token !== me.token && !isDead(current)) {
          return { acquired: false, holder: current };
        }
        this.stmts.put.run({
          env,
          token: me.token,
          verb: me.verb,
          pid: me.pid,
          startTicks: me.startTicks ?? null,
          bootId: me.bootId ?? null,
          host: me.host,
          acquiredAtMs: me.acquiredAtMs,
        });
        return current && current.token !== me.token
          ? { acquired: true, tookOver: current }
          : { acquired: true };
      })
      .immediate();
  }

  /** Drops the lock if `token` still holds it (a taken-over lock is not ours to drop). */
  release(env: string, token: string): void {
    this.stmts.release.run(env, token);
  }

  holder(env: string): LockHolder | undefined {
    const row = this.stmts.get.get(env);
    return row && holderOf(row);
  }

  all(): (LockHolder & { env: string })[] {
    return this.stmts.all.all().map((r) => ({ ...holderOf(r), env: r.env }));
  }
}
