/**
 * Every verb that changes an env runs as one operation: it holds the env's lock in the catalog
 * for its whole run (a second verb on the same env is told who is busy, or waits with --wait),
 * tags the engine processes it starts so they can be found and stopped if it dies, and heals
 * what a holder that died left behind (its engine processes, Pulumi's lock, pending operations)
 * before it starts, saying so in one line.
 */
import { randomUUID } from "node:crypto";
import type { Catalog } from "../lib/catalog/catalog";
import type { LockHolder } from "../lib/catalog/locks";
import { badInput, UserError } from "../lib/core/errors";
import { durationMs } from "../lib/spec/fields";
import type { Home } from "../lib/core/home";
import { openEngine, stackExists, type Engine } from "../lib/engine/automation";
import { describeHealed, heal, hostLabel, pulumiLocks, type PulumiLock } from "../lib/engine/heal";
import { liveness, OPERATION_VAR, processId, startWatchdog } from "../lib/runtime/processes";
import { openCatalog } from "./context";

export interface OperationFlags {
  /** Wait for another operation on the env to finish instead of failing busy. */
  wait?: boolean;
  /** Wait at most this long (a duration, `90s`; implies wait), then fail busy. */
  waitTimeout?: string;
}

/** The --wait-timeout in milliseconds; a bad one is exit 2 naming the flag. */
export function waitTimeoutMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(text) && !/^\d+$/.test(text)) {
    throw badInput(
      `--wait-timeout: must be a duration like "90s" or "5m", got ${JSON.stringify(text)}`,
    );
  }
  return /^\d+$/.test(text) ? Number(text) * 1000 : durationMs(text);
}

export interface Operation {
  token: string;
  /** Ends the operation: the lock is released and the engine tag removed from this process. */
  release(): void;
}

const WAIT_POLL_MS = 500;

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}

function busyError(name: string, what: string, hint: string): UserError {
  return new UserError(`env ${name} is busy: ${what}`, 1, [hint]);
}

function holderText(h: LockHolder): string {
  return `\`envctl ${h.verb}\` (pid ${h.pid} on ${hostLabel(h.host)}, started ${ago(h.acquiredAtMs)}) is running on it`;
}

function pulumiText(lock: PulumiLock): string {
  return `a pulumi process (pid ${lock.pid} on ${hostLabel(lock.hostname)}) holds its stack's lock`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new UserError("interrupted while waiting; nothing changed"));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(new UserError("interrupted while waiting; nothing changed"));
      },
      { once: true },
    );
  });
}

/**
 * Takes the env's lock for `verb` and heals what a dead holder left. Busy (another live holder,
 * or a live pulumi process on the stack) is an error naming it, unless `wait`.
 */
export async function beginOperation(args: {
  catalog: Catalog;
  engine: Engine;
  /** The command's seams: progress lines go to `log`, an abort stops a --wait. */
  s: { log: (line: string) => void; signal?: AbortSignal };
  name: string;
  verb: string;
  wait?: boolean;
  waitTimeout?: string;
  /** Take the lock even from a live holder (recover --force, after stopping it). */
  isDead?: (holder: LockHolder) => boolean;
}): Promise<Operation> {
  const { catalog, engine, name, verb } = args;
  const me: LockHolder = {
    ...processId(),
    token: randomUUID(),
    verb,
    acquiredAtMs: Date.now(),
  };
  const isDead = args.isDead ?? ((h: LockHolder) => liveness(h) === "dead");
  const timeout = waitTimeoutMs(args.waitTimeout);
  const deadline = timeout === undefined ? Infinity : Date.now() + timeout;
  const wait = (args.wait ?? false) || timeout !== undefined;
  const waitMore = (): boolean => wait && Date.now() < deadline;
  const waited = (): string =>
    timeout === undefined ? "" : `; still busy after --wait-timeout ${args.waitTimeout}`;
  for (;;) {
    const res = catalog.locks.acquire(name, me, isDead);
    if (res.acquired) {
      const locks = pulumiLocks(engine, name);
      const live = locks.find((l) => l.state !== "dead");
      if (live) {
        catalog.locks.release(name, me.token);
        if (waitMore()) {
          await sleep(WAIT_POLL_MS, args.s.signal);
          continue;
        }
        throw busyError(
          name,
          pulumiText(live) + waited(),
          live.state === "alive"
            ? "wait for it to finish (or stop it), or pass --wait"
            : `if no pulumi runs on that host any more, run \`envctl recover ${name} --force\``,
        );
      }
      if (res.tookOver || locks.length > 0) {
        const healed = await heal(engine, name, {
          token: res.tookOver?.token,
          stackExists: await stackExists(engine, name),
        });
        const who = res.tookOver
          ? `the last \`envctl ${res.tookOver.verb}\` (pid ${res.tookOver.pid}) died mid-operation`
          : `a pulumi process died holding its lock`;
        args.s.log(`env ${name}: ${who}; ${describeHealed(healed)}`);
        for (const l of healed.left) args.s.log(`  warning: left half made: ${l}`);
      }
      break;
    }
    if (!waitMore()) {
      throw busyError(
        name,
        holderText(res.holder) + waited(),
        liveness(res.holder) === "unknown"
          ? `if that envctl is gone, run \`envctl recover ${name} --force\` (it cannot be checked from here)`
          : "wait for it to finish, or pass --wait",
      );
    }
    await sleep(WAIT_POLL_MS, args.s.signal);
  }
  process.env[OPERATION_VAR] = me.token;
  const stopWatchdog = startWatchdog(me.token);
  return {
    token: me.token,
    release() {
      if (process.env[OPERATION_VAR] === me.token) delete process.env[OPERATION_VAR];
      stopWatchdog();
      try {
        catalog.locks.release(name, me.token);
      } catch {
        // the catalog closed under us: the lock reads as dead once this process exits
      }
    },
  };
}

/**
 * `run` as one operation on env `name`: the home's catalog and engine opened, the env's lock
 * held for the whole call, both released whatever happens.
 */
export async function withOperation<T>(
  args: {
    s: { home: Home; log: (line: string) => void; signal?: AbortSignal };
    name: string;
    verb: string;
    wait?: boolean;
    waitTimeout?: string;
  },
  run: (ctx: { catalog: Catalog; engine: Engine }) => Promise<T>,
): Promise<T> {
  const catalog = openCatalog(args.s.home);
  let op: Operation | undefined;
  try {
    const engine = await openEngine(args.s.home);
    op = await beginOperation({
      catalog,
      engine,
      s: args.s,
      name: args.name,
      verb: args.verb,
      wait: args.wait,
      waitTimeout: args.waitTimeout,
    });
    return await run({ catalog, engine });
  } finally {
    op?.release();
    catalog.close();
  }
}
