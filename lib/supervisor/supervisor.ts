/**
 * The supervisor of one env: the long-lived owner of its process services' restart policy,
 * liveness probes and file watches (the a3s document's Supervisor, HealthChecker and Watcher).
 *
 * It never starts a second copy of a service. The pid files stay the one record of what runs
 * (lib/runtime/daemon.ts); the supervisor acts only on what they say:
 *   - a pid file whose process is gone is a crash: restarted per policy after a backoff;
 *   - no pid file is a service envctl stopped: left alone;
 *   - a pid file marked `stopping` is envctl stopping it: left alone;
 * and it acts not at all while an envctl operation holds the env's lock (that operation owns
 * the env until it ends), so `up`, `warm`, `cool` and `restart` never race it.
 *
 * A restart starts the service from the recipe its Process resource was created with
 * (`<name>.run.json`) and waits for its health check, as `up` does. Dependents keep running
 * through an upstream's restart.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { FSWatcher } from "chokidar";
import {
  daemonStatus,
  readExitStatus,
  stopDaemon,
  tailLog,
  truncateLogIfLarge,
  unstamp,
} from "../runtime/daemon";
import { busyPorts, probeOnce, sleep } from "../runtime/probes";
import Database from "better-sqlite3";
import { liveness } from "../runtime/processes";
import { readRunFile, startProcess } from "../runtime/service";
import { processEnv } from "../spec/ports";
import { ExponentialBackoff, restarts, type Exit } from "./backoff";
import {
  eventsPath,
  statePath,
  writeJson,
  type ServiceStatus,
  type SupervisedService,
  type SupervisorConfig,
  type SupervisorEvent,
  type SupervisorState,
} from "./model";
import { ignoreMatcher } from "./watch";

const TICK_MS = 200;

interface LockRow {
  pid: number;
  start_ticks: number | null;
  boot_id: string | null;
  host: string;
}
/** The state file is rewritten at least this often, so readers can tell it is alive. */
const HEARTBEAT_MS = 1000;
const LOG_TAIL_LINES = 20;
const MAX_EVENTS_BYTES = 10 * 1024 * 1024;

interface Tracked {
  spec: SupervisedService;
  status: ServiceStatus;
  backoff: ExponentialBackoff;
  /** A probe, restart or stop in flight: nothing else is done to the service meanwhile. */
  busy: boolean;
  lastProbeAtMs: number;
  watcher?: FSWatcher;
  /** Changes of the current burst (debounced). */
  burst?: { count: number; first: string; timer: NodeJS.Timeout };
  /** A watch restart that waits for an envctl operation to end. */
  pendingWatch?: string;
}

export interface SupervisorOptions {
  /** The clock (tests). */
  now?: () => number;
  log?: (line: string) => void;
}

export class Supervisor {
  private tracked = new Map<string, Tracked>();
  private lastWriteMs = 0;
  private dirty = true;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly log: (line: string) => void;

  constructor(
    private config: SupervisorConfig,
    opts: SupervisorOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.log =
      opts.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
  }

  /** Adopts what runs, starts the watches and the tick loop. */
  start(): void {
    this.apply(this.config);
    this.emit({ type: "supervisor", state: "started" });
    this.loop();
  }

  /** A new config (SIGHUP): services added, dropped or changed; their counters are kept. */
  reload(config: SupervisorConfig): void {
    this.config = config;
    this.apply(config);
    this.emit({ type: "supervisor", state: "reloaded" });
    this.dirty = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.tracked.values()) await this.unwatch(t);
    this.emit({ type: "supervisor", state: "stopped" });
    this.writeState();
  }

  /** The statuses now (what the state file holds). */
  snapshot(): SupervisorState {
    return {
      pid: process.pid,
      env: this.config.env,
      configHash: this.config.hash,
      updatedAtMs: this.now(),
      services: [...this.tracked.values()].map((t) => ({ ...t.status })),
    };
  }

  private apply(config: SupervisorConfig): void {
    const names = new Set(config.services.map((s) => s.name));
    for (const [name, t] of this.tracked) {
      if (!names.has(name)) {
        void this.unwatch(t);
        this.tracked.delete(name);
      }
    }
    for (const spec of config.services) {
      const old = this.tracked.get(spec.name);
      if (old) {
        const watchChanged = JSON.stringify(old.spec.watch) !== JSON.stringify(spec.watch);
        old.spec = spec;
        old.status.restart = spec.restart;
        if (watchChanged) {
          void this.unwatch(old).then(() => this.watch(old));
        }
        continue;
      }
      const st = daemonStatus(config.stateDir, spec.name);
      const t: Tracked = {
        spec,
        backoff: new ExponentialBackoff(config.backoff),
        busy: false,
        lastProbeAtMs: 0,
        status: {
          name: spec.name,
          phase: st.running ? "running" : st.stale ? "crashed" : "stopped",
          restart: spec.restart,
          restarts: 0,
          totalRestarts: 0,
          failures: 0,
          ...(st.pid !== undefined ? { pid: st.pid } : {}),
          ...(st.running && st.startedAtMs ? { sinceMs: st.startedAtMs } : {}),
        },
      };
      // A crash before the supervisor existed is handled as one now.
      if (t.status.phase === "crashed") t.status.phase = "running";
      this.tracked.set(spec.name, t);
      this.watch(t);
    }
  }

  private loop(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      try {
        this.tick();
      } catch (err) {
        this.log(`tick failed: ${String(err)}`);
      }
      this.loop();
    }, TICK_MS);
  }

  /** One look at every service. Exposed for tests, which drive it by hand. */
  tick(): void {
    // The catalog is read only when something is to be done, at most once a tick.
    let known: boolean | undefined;
    const held = (): boolean => (known ??= this.operationRunning());
    for (const t of this.tracked.values()) {
      if (t.busy) continue;
      this.observe(t, held);
      if (t.pendingWatch !== undefined) {
        if (held()) continue;
        const why = t.pendingWatch;
        delete t.pendingWatch;
        void this.restartNow(t, `watch: ${why}`);
        continue;
      }
      if (t.status.phase === "backoff" && this.now() >= (t.status.nextRetryAtMs ?? 0)) {
        if (!held()) void this.restartNow(t, "backoff over");
      } else if (t.status.phase === "running" || t.status.phase === "unhealthy") {
        this.probe(t);
      }
    }
    if (this.dirty || this.now() - this.lastWriteMs >= HEARTBEAT_MS) this.writeState();
  }

  /** What the pid file says now, and what follows from it. */
  private observe(t: Tracked, held: () => boolean): void {
    const s = t.status;
    const st = daemonStatus(this.config.stateDir, t.spec.name);
    if (st.stopping) return; // envctl is stopping it
    if (st.running) {
      if (st.pid !== s.pid || !["running", "unhealthy"].includes(s.phase)) {
        // A run envctl started (up, restart; ours are recorded as they start): a fresh start,
        // its crashes counted from zero.
        if (st.pid !== s.pid) {
          s.restarts = 0;
          t.backoff.reset();
        }
        this.set(t, "running", { pid: st.pid!, sinceMs: st.startedAtMs ?? this.now() });
        s.failures = 0;
        delete s.healthy;
        delete s.reason;
        delete s.logTail;
      }
      if (
        s.sinceMs !== undefined &&
        s.healthy !== false &&
        t.backoff.ranHealthy(this.now() - s.sinceMs)
      ) {
        s.restarts = 0;
        this.dirty = true;
      }
      return;
    }
    if (!st.stale) {
      // No pid file: stopped by envctl, unless we are between attempts of our own.
      if (s.phase !== "backoff" && s.phase !== "failed" && s.phase !== "stopped") {
        this.set(t, "stopped", {});
        delete s.pid;
        delete s.sinceMs;
      }
      return;
    }
    if (s.phase !== "running" && s.phase !== "unhealthy") return; // handled already
    // The operation running now sees the crash too (its diff restarts the service); what is
    // still down once it ends is handled then.
    if (held()) return;
    const code = readExitStatus(this.config.stateDir, t.spec.name, st.startedAtMs ?? 0);
    s.lastExit = { ...(code !== undefined ? { code } : {}), atMs: this.now() };
    this.crashed(t, { ...(code !== undefined ? { code } : {}) }, exitText(code));
  }

  /** After a crash, a failed start or an unhealthy stretch: down, or a restart scheduled. */
  private crashed(t: Tracked, exit: Exit, reason: string): void {
    const s = t.status;
    if (!restarts(t.spec.restart, exit)) {
      const phase = exit.code === 0 && !exit.unhealthy ? "exited" : "crashed";
      this.set(t, phase, { reason: `${reason}; restart: ${t.spec.restart}` });
      this.clearLeftovers(t);
      return;
    }
    const max = t.spec.maxRestarts;
    if (max !== undefined && s.restarts >= max) {
      s.logTail = unstamp(
        tailLog(path.join(this.config.stateDir, `${t.spec.name}.log`), LOG_TAIL_LINES),
      ).trimEnd();
      this.set(t, "failed", {
        reason: `${reason}; gave up after ${max} restart${max === 1 ? "" : "s"} (max_restarts)`,
      });
      this.clearLeftovers(t);
      return;
    }
    this.retryIn(t, t.backoff.next(), reason);
  }

  /** Backoff for `delayMs`: the retry time and the event's wait come from one clock reading. */
  private retryIn(t: Tracked, delayMs: number, reason: string): void {
    const now = this.now();
    this.set(t, "backoff", { reason, nextRetryAtMs: now + delayMs }, now);
  }

  /**
   * What a crashed service left running (children of the killed shell, holding its ports) is
   * stopped; the stale pid file stays, so `list` and the next `up` see the crash.
   */
  private clearLeftovers(t: Tracked): void {
    t.busy = true;
    void stopDaemon(this.config.stateDir, t.spec.name, { keepPidFile: true })
      .catch((err: unknown) => this.log(`${t.spec.name}: ${String(err)}`))
      .finally(() => {
        t.busy = false;
      });
  }

  /** Stops (a leftover of) the service and starts it again, health-gated. */
  private async restartNow(t: Tracked, why: string): Promise<void> {
    if (t.busy) return;
    t.busy = true;
    const s = t.status;
    try {
      this.set(t, "starting", { reason: why });
      // Only what this supervisor saw: a daemon envctl started meanwhile is adopted instead.
      const now = daemonStatus(this.config.stateDir, t.spec.name);
      if (now.running && now.pid !== s.pid) {
        this.set(t, "running", { pid: now.pid!, sinceMs: now.startedAtMs ?? this.now() });
        return;
      }
      if (now.pid !== undefined) {
        await stopDaemon(this.config.stateDir, t.spec.name, { onlyPid: now.pid });
      }
      await portsFreed(t.spec.ports);
      // An operation that began meanwhile owns the env; a service it dropped is no longer ours.
      if (this.operationRunning() || this.tracked.get(t.spec.name) !== t) {
        this.retryIn(t, 1000, "an envctl operation runs");
        return;
      }
      const props = readRunFile(this.config.stateDir, t.spec.name);
      if (!props) {
        this.set(t, "failed", { reason: "no start recipe (<name>.run.json): run envctl up again" });
        return;
      }
      // A watch restart is no crash: max_restarts counts crashes only.
      if (!why.startsWith("watch:")) s.restarts++;
      s.totalRestarts++;
      delete s.nextRetryAtMs;
      try {
        const out = await startProcess(props);
        s.pid = out.pid!; // ours: observe must not take it for envctl's
        const st = daemonStatus(this.config.stateDir, t.spec.name);
        s.failures = 0;
        if (props.health)
          s.healthy = true; // startProcess waited for it
        else delete s.healthy;
        delete s.reason;
        delete s.logTail;
        this.set(t, "running", { pid: out.pid!, sinceMs: st.startedAtMs ?? this.now() });
      } catch (err) {
        const first = String(err instanceof Error ? err.message : err).split("\n")[0]!;
        this.crashed(t, {}, `restart failed: ${first}`);
      }
    } finally {
      t.busy = false;
    }
  }

  /** A liveness probe on the service's interval; unhealthy after `retries` failures in a row. */
  private probe(t: Tracked): void {
    const h = t.spec.health;
    if (!h || this.now() - t.lastProbeAtMs < h.intervalMs) return;
    t.lastProbeAtMs = this.now();
    t.busy = true;
    const props = readRunFile(this.config.stateDir, t.spec.name);
    const env = processEnv({ ports: t.spec.ports, env: props?.vars ?? {} });
    void probeOnce(h, t.spec.ports, { cwd: t.spec.cwd, envFile: this.config.envFile, env })
      .then(async (res) => {
        const s = t.status;
        if (res.ok) {
          s.failures = 0;
          if (s.healthy !== true) {
            s.healthy = true;
            if (s.phase === "unhealthy") this.set(t, "running", {});
            this.emit({ type: "health", service: t.spec.name, healthy: true, pid: s.pid });
            this.dirty = true;
          }
          return;
        }
        s.failures++;
        this.dirty = true;
        if (s.failures < h.retries || s.healthy === false) return;
        s.healthy = false;
        const reason = `unhealthy: ${res.detail ?? "probe failed"} (${s.failures} failed probes in a row)`;
        this.emit({ type: "health", service: t.spec.name, healthy: false, pid: s.pid, reason });
        this.set(t, "unhealthy", { reason });
        if (t.spec.restart !== "no" && !this.operationRunning()) {
          // A restart policy acts on it: stopped, then restarted after the backoff.
          await stopDaemon(this.config.stateDir, t.spec.name);
          this.crashed(t, { unhealthy: true }, reason);
        }
      })
      .catch((err: unknown) => this.log(`${t.spec.name}: probe failed: ${String(err)}`))
      .finally(() => {
        t.busy = false;
      });
  }

  private watch(t: Tracked): void {
    const w = t.spec.watch;
    if (!w || this.stopped) return;
    // Loaded only by supervisors that watch something.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const chokidar = require("chokidar") as typeof import("chokidar");
    const ignored = ignoreMatcher(w.paths, w.ignore);
    t.watcher = chokidar.watch(w.paths, { ignoreInitial: true, ignored, persistent: true });
    t.watcher.on("all", (_event, file) => this.changed(t, file));
    t.watcher.on("error", (err) => this.log(`${t.spec.name}: watch: ${String(err)}`));
  }

  private async unwatch(t: Tracked): Promise<void> {
    if (t.burst) clearTimeout(t.burst.timer);
    delete t.burst;
    const w = t.watcher;
    delete t.watcher;
    await w?.close();
  }

  /** One change of a burst: the burst ends `debounceMs` after its last change. */
  private changed(t: Tracked, file: string): void {
    const w = t.spec.watch!;
    if (t.burst) {
      clearTimeout(t.burst.timer);
      t.burst.count++;
    } else {
      t.burst = { count: 1, first: file, timer: undefined! };
    }
    t.burst.timer = setTimeout(() => {
      const burst = t.burst!;
      delete t.burst;
      const rel = path.relative(t.spec.cwd, burst.first) || burst.first;
      this.emit({ type: "watch", service: t.spec.name, changes: burst.count, path: burst.first });
      if (!w.restart) return;
      const why = `${burst.count} change${burst.count === 1 ? "" : "s"} (${rel})`;
      const phase = t.status.phase;
      if (phase === "stopped" || phase === "failed") return; // nothing runs to reload
      if (this.operationRunning() || t.busy) t.pendingWatch = why;
      else void this.restartNow(t, `watch: ${why}`);
    }, w.debounceMs);
  }

  /**
   * Whether a live envctl holds the env's lock (its operation owns the env meanwhile). Read
   * as lib/catalog's openForReading reads (a plain connection, query_only, so a crashed
   * writer's WAL is folded in and nothing is left behind), with the env_locks row read here:
   * lib/catalog depends on the kinds, which depend on this module's model.
   */
  private operationRunning(): boolean {
    if (!fs.existsSync(this.config.catalogFile)) return false;
    let db: Database.Database | undefined;
    try {
      db = new Database(this.config.catalogFile, { fileMustExist: true });
      db.pragma("query_only = ON");
      db.pragma("busy_timeout = 500");
      const row = db
        .prepare<[string], LockRow>(
          "SELECT pid, start_ticks, boot_id, host FROM env_locks WHERE env = ?",
        )
        .get(this.config.env);
      if (!row) return false;
      const holder = {
        pid: row.pid,
        host: row.host,
        ...(row.start_ticks !== null ? { startTicks: row.start_ticks } : {}),
        ...(row.boot_id !== null ? { bootId: row.boot_id } : {}),
      };
      return liveness(holder) !== "dead";
    } catch (err) {
      this.log(`cannot read the catalog's locks: ${String(err)}`);
      return true; // unreadable now: wait for the next look rather than race
    } finally {
      db?.close();
    }
  }

  /** `now` is the clock reading `extra`'s times were computed from. */
  private set(
    t: Tracked,
    phase: ServiceStatus["phase"],
    extra: Partial<ServiceStatus>,
    now = this.now(),
  ): void {
    const s = t.status;
    const changed = s.phase !== phase || (extra.pid !== undefined && extra.pid !== s.pid);
    s.phase = phase;
    Object.assign(s, extra);
    if (phase !== "backoff") delete s.nextRetryAtMs;
    this.dirty = true;
    if (!changed && phase !== "backoff") return;
    this.emit({
      type: "state",
      service: t.spec.name,
      state: phase,
      ...(s.pid !== undefined && (phase === "running" || phase === "unhealthy")
        ? { pid: s.pid }
        : {}),
      restarts: s.restarts,
      ...(s.nextRetryAtMs !== undefined ? { nextRetryMs: s.nextRetryAtMs - now } : {}),
      ...(s.lastExit?.code !== undefined && phase !== "running"
        ? { exitCode: s.lastExit.code }
        : {}),
      ...(s.reason !== undefined && phase !== "running" ? { reason: s.reason } : {}),
    });
  }

  private emit(e: Omit<SupervisorEvent, "time" | "env">): void {
    const event: SupervisorEvent = {
      time: new Date(this.now()).toISOString(),
      env: this.config.env,
      ...e,
    };
    const file = eventsPath(this.config.stateDir);
    try {
      truncateLogIfLarge(file, MAX_EVENTS_BYTES);
      fs.appendFileSync(file, `${JSON.stringify(event)}\n`, { mode: 0o600 });
    } catch (err) {
      this.log(`cannot write ${file}: ${String(err)}`);
    }
    if (e.service)
      this.log(
        `${e.service}: ${e.type} ${e.state ?? (e.healthy ? "healthy" : "unhealthy")}${e.reason ? ` (${e.reason})` : ""}`,
      );
  }

  private writeState(): void {
    this.dirty = false;
    this.lastWriteMs = this.now();
    try {
      writeJson(statePath(this.config.stateDir), this.snapshot());
    } catch (err) {
      this.log(`cannot write the state file: ${String(err)}`);
    }
  }
}

/** A killed program's ports can stay taken a moment (closing connections): up to 3 s. */
async function portsFreed(ports: SupervisedService["ports"]): Promise<void> {
  const tcp = ports.filter((p) => p.protocol === "tcp").map((p) => p.host);
  for (let i = 0; i < 30 && tcp.length > 0 && (await busyPorts(tcp)).length > 0; i++) {
    await sleep(100);
  }
}

function exitText(code: number | undefined): string {
  return code === undefined ? "killed (no exit status)" : `exited with status ${code}`;
}
