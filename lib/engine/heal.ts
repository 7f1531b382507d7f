/**
 * What an operation that died leaves in the engine, and how the next verb clears it: the
 * engine's processes still running for nobody, the Pulumi lock of a pulumi process that is
 * gone, and the pending operations its checkpoint still lists. Clearing pending operations is
 * safe because envctl's handlers make creates idempotent (a container, network, worktree or
 * daemon half made by the dead operation is adopted or replaced by the next create) and
 * deletes tolerate what is already gone.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { liveness, readProcStat, stopOperation } from "../runtime/processes";
import { fileBackendDir, PROJECT, type Engine } from "./automation";
import { mapEngineError } from "./errors";
import { runPulumi } from "./update";

/** A Pulumi file-backend lock: `.pulumi/locks/<org>/envctl/<stack>/<id>.json`. */
export interface PulumiLock {
  file: string;
  pid: number;
  hostname: string;
  timestamp: string;
  state: "alive" | "dead" | "unknown";
}

/** Kernel clock ticks per second: 100 on every Linux build that matters (USER_HZ). */
const TICKS_PER_SECOND = 100;

function bootTimeMs(): number | undefined {
  try {
    const m = /^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"));
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the pulumi process that wrote a lock still runs: same host, the pid alive and not a
 * zombie, and started no later than the lock was written (else the pid was reused).
 */
function lockState(pid: number, hostname: string, timestamp: string): PulumiLock["state"] {
  const state = liveness({ pid, host: hostname });
  if (state !== "alive") return state;
  const ticks = readProcStat(pid)?.startTicks;
  const boot = bootTimeMs();
  const locked = Date.parse(timestamp);
  if (ticks === undefined || boot === undefined || !Number.isFinite(locked)) return "alive";
  const startedMs = boot + (ticks * 1000) / TICKS_PER_SECOND;
  return startedMs <= locked + 2_000 ? "alive" : "dead";
}

/** The file backend's locks on the env's stack; [] for other backends or none. */
export function pulumiLocks(engine: Pick<Engine, "env">, stack: string): PulumiLock[] {
  const dir = fileBackendDir(engine.env);
  if (!dir) return [];
  const root = path.join(dir, "locks");
  const dirs: string[] = [];
  let orgs: string[] = [];
  try {
    orgs = fs.readdirSync(root);
  } catch {
    return [];
  }
  for (const org of orgs) dirs.push(path.join(root, org, PROJECT, stack));
  dirs.push(path.join(root, PROJECT, stack)); // a backend without organizations
  const locks: PulumiLock[] = [];
  for (const d of dirs) {
    let files: string[];
    try {
      files = fs.readdirSync(d).filter((f) => f.endsWith(".json"));
    } catch {
      continue;
    }
    for (const f of files) {
      const file = path.join(d, f);
      let doc: { pid?: unknown; hostname?: unknown; timestamp?: unknown };
      try {
        doc = JSON.parse(fs.readFileSync(file, "utf8")) as typeof doc;
      } catch {
        continue; // being written, or removed meanwhile
      }
      const pid = typeof doc.pid === "number" ? doc.pid : 0;
      const hostname = typeof doc.hostname === "string" ? doc.hostname : "";
      const timestamp = typeof doc.timestamp === "string" ? doc.timestamp : "";
      const state = pid > 0 ? lockState(pid, hostname, timestamp) : "unknown";
      locks.push({ file, pid, hostname, timestamp, state });
    }
  }
  return locks;
}

/** Removes a dead pulumi process's lock file (and the attributes file the backend keeps beside it). */
function removeLock(lock: PulumiLock): void {
  fs.rmSync(lock.file, { force: true });
  fs.rmSync(`${lock.file}.attrs`, { force: true });
}

interface PendingOperation {
  type?: string;
  resource?: { urn?: string; type?: string; id?: string; inputs?: Props; outputs?: Props };
}
type Props = Record<string, unknown>;

/** `pulumi-nodejs:dynamic/envctl:Container` -> the `container` handler's key. */
const DYNAMIC_TYPE = /^pulumi-nodejs:dynamic\/envctl:(\w+)$/;

/**
 * What a create the dead operation left unfinished made so far, removed through the resource's
 * own handler (a container, a network, a daemon, a worktree without work in it): state will
 * not list it, so nothing else would. Returns the failures, as `URN name: reason`.
 */
async function undoCreates(pending: PendingOperation[]): Promise<string[]> {
  const creates = pending.filter((op) => op.type === "creating" && op.resource?.type);
  if (creates.length === 0) return [];
  const { handlers } = await import("../providers/index");
  const failed: string[] = [];
  for (const op of creates.reverse()) {
    const r = op.resource!;
    const kind = DYNAMIC_TYPE.exec(r.type!)?.[1]?.toLowerCase();
    const handler = kind ? handlers[kind] : undefined;
    if (!handler) continue; // not envctl's: the engine's own resources make nothing outside state
    try {
      await handler.delete(r.id ?? "", { ...(r.inputs ?? {}), ...(r.outputs ?? {}) });
    } catch (err) {
      failed.push(
        `${(r.urn ?? "").split("::").pop()}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  return failed;
}

/**
 * The pending operations the stack's checkpoint lists, dropped through `pulumi stack export` /
 * `import`, after undoing what their creates made. 0 pending costs one pulumi process and
 * changes nothing.
 */
export async function clearPendingOperations(
  engine: Engine,
  stack: string,
): Promise<{ cleared: number; left: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-heal-"));
  const file = path.join(dir, "state.json");
  try {
    await runPulumi(engine, ["stack", "export", "--stack", stack, "--file", file]);
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as {
      deployment?: { pending_operations?: PendingOperation[] };
    };
    const pending = doc.deployment?.pending_operations ?? [];
    if (pending.length === 0) return { cleared: 0, left: [] };
    const left = await undoCreates(pending);
    delete doc.deployment!.pending_operations;
    fs.writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
    await runPulumi(engine, ["stack", "import", "--stack", stack, "--file", file]);
    return { cleared: pending.length, left };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface Healed {
  /** Engine processes of the dead operation that were still running, now stopped. */
  processes: number;
  /** Pulumi locks of dead pulumi processes removed. */
  locks: number;
  /** Damaged or leftover state files of a killed writer removed (lib/engine/heal.ts repairBackendFiles). */
  repaired: number;
  pendingOperations: number;
  /** Half-made objects of unfinished creates that could not be removed (`name: reason`). */
  left: string[];
}

/**
 * After the operation `token` died (its envctl is gone), or a pulumi process died holding the
 * stack's lock: stop what still runs for it, drop dead locks, clear pending operations. A stack
 * that does not exist yet has nothing to clear.
 */
export async function heal(
  engine: Engine,
  stack: string,
  opts: { token?: string; stackExists: boolean },
): Promise<Healed> {
  const processes = opts.token ? await stopOperation(opts.token) : 0;
  let locks = 0;
  for (const lock of pulumiLocks(engine, stack)) {
    if (lock.state !== "dead") continue;
    removeLock(lock);
    locks += 1;
  }
  const repaired = repairBackendFiles(engine, stack);
  let pending: { cleared: number; left: string[] } = { cleared: 0, left: [] };
  if (opts.stackExists) {
    try {
      pending = await clearPendingOperations(engine, stack);
    } catch (err) {
      throw mapEngineError(err, stack);
    }
  }
  return { processes, locks, repaired, pendingOperations: pending.cleared, left: pending.left };
}

/**
 * What a pulumi process killed while writing leaves in a file backend: the checkpoint itself
 * is written to a temp file and renamed, but its attributes sidecar (`<stack>.json.attrs`) is
 * written in place, so a kill can leave it empty, and every later load then fails with "EOF".
 * Removes damaged sidecars (the backend reads a missing one as no attributes) and the dead
 * writer's temp files, for the stack's checkpoint, history and backups. Returns how many.
 */
export function repairBackendFiles(engine: Pick<Engine, "env">, stack: string): number {
  const dir = fileBackendDir(engine.env);
  if (!dir) return 0;
  let repaired = 0;
  // The checkpoint's directory holds every stack's; history and backups have one per stack.
  const stacks = path.join(dir, "stacks");
  const roots = [
    stacks,
    path.join(dir, "history", PROJECT, stack),
    path.join(dir, "backups", PROJECT, stack),
  ];
  const ours = (root: string, f: string): boolean =>
    root !== stacks || path.basename(f).startsWith(`${stack}.`);
  for (const root of roots) {
    let files: string[];
    try {
      files = fs.readdirSync(root, { recursive: true, encoding: "utf8" });
    } catch {
      continue;
    }
    for (const rel of files) {
      const file = path.join(root, rel);
      if (!ours(root, file)) continue;
      if (/\.json(\.gz)?(\.bak)?\.[0-9a-f]+\.tmp$/.test(file)) {
        fs.rmSync(file, { force: true });
        repaired += 1;
      } else if (file.endsWith(".attrs") && !validJson(file)) {
        fs.rmSync(file, { force: true });
        repaired += 1;
      }
    }
  }
  return repaired;
}

function validJson(file: string): boolean {
  try {
    JSON.parse(fs.readFileSync(file, "utf8"));
    return true;
  } catch {
    return false;
  }
}

/** `cleared its lock and 2 pending operations, stopped 3 leftover processes`. */
export function describeHealed(h: Healed): string {
  const parts = [`cleared its lock`];
  if (h.pendingOperations > 0) {
    parts[0] += ` and ${h.pendingOperations} pending operation${h.pendingOperations === 1 ? "" : "s"}`;
  }
  if (h.repaired > 0) {
    parts.push(
      `repaired ${h.repaired} state file${h.repaired === 1 ? "" : "s"} a killed write left`,
    );
  }
  if (h.processes > 0) {
    parts.push(`stopped ${h.processes} leftover engine process${h.processes === 1 ? "" : "es"}`);
  }
  return parts.join(", ");
}

/** The host a lock names, for messages: `this host` or its name. */
export function hostLabel(hostname: string): string {
  return hostname === os.hostname() ? "this host" : `host ${hostname}`;
}
