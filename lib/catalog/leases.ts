/**
 * Which port block an env gets: the lowest block no env holds whose host ports are all free
 * right now. The port math is lib/spec/ports.ts; the lease table is the catalog's (catalog.ts).
 */
import Database from "better-sqlite3";
import { UserError } from "../core/errors";
import { busyPorts } from "../runtime/probes";
import type { EnvSpec, ResolvedService } from "../spec/model";
import {
  BLOCK_SIZE,
  blockBase,
  chooseBlock,
  fixedPorts,
  MAX_BLOCK,
  type HeldBlock,
} from "../spec/ports";

import { NoFreeBlockError, openForReading, type Catalog } from "./catalog";

/** Host ports `base`..`base + 999` of block n. */
export function blockRange(n: number): [number, number] {
  const base = blockBase(n);
  return [base, base + BLOCK_SIZE - 1];
}

/**
 * Blocks other envs hold, read from the catalog without creating or migrating it: nothing when
 * the file does not exist, read-only otherwise (catalog.ts `openForReading`).
 */
export function heldBlocks(catalogFile: string): HeldBlock[] {
  const db = openForReading(catalogFile);
  if (!db) return [];
  try {
    const rows = (sql: string): HeldBlock[] => {
      try {
        return db.prepare<[], HeldBlock>(sql).all();
      } catch {
        return []; // an older or empty catalog without the table
      }
    };
    const held = [
      ...rows("SELECT block, env FROM port_leases"),
      ...rows("SELECT block, name AS env FROM envs WHERE block IS NOT NULL"),
    ];
    const seen = new Set<number>();
    return held
      .filter((h) => !seen.has(h.block) && seen.add(h.block))
      .sort((a, b) => a.block - b.block);
  } finally {
    db.close();
  }
}

/** The lowest block not in `skip` whose host ports for `spec` are all free right now. */
export async function freeBlock(spec: EnvSpec, skip: Set<number>): Promise<number | undefined> {
  return (await chooseBlock(spec.services, skip, busyPorts)).block;
}

/**
 * Whether leasing block n failed only because another envctl leased it after the scan: the
 * IMMEDIATE transaction then finds it taken (and `accept` rejects every other block), or, should
 * the insert race anyway, the block's primary key refuses it.
 */
function takenMeanwhile(err: unknown): boolean {
  if (err instanceof NoFreeBlockError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return (
    err instanceof Database.SqliteError &&
    (code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE") &&
    /port_leases\.block/.test(err.message)
  );
}

/** SQLITE_BUSY / SQLITE_LOCKED (and their extended codes): another process holds the catalog. */
function catalogBusy(err: unknown, catalog: Catalog): UserError | undefined {
  if (!(err instanceof Database.SqliteError) || !/^SQLITE_(BUSY|LOCKED)/.test(err.code)) {
    return undefined;
  }
  return new UserError(
    `the envctl catalog ${catalog.file} is busy (${err.code}): another process kept it locked`,
    1,
    [
      "run the command again once the other envctl is done",
      "if none is running, look for a process holding the file open (e.g. `fuser -v " +
        `${catalog.file}\`) and stop it`,
    ],
  );
}

/**
 * Leases a port block for a new env: the lowest block whose host ports are all free right now.
 * An env that already holds a lease keeps it. A block another process leases first is skipped;
 * a busy catalog or any other SQLite error is reported as itself.
 */
export async function leaseFor(
  catalog: Catalog,
  name: string,
  spec: EnvSpec,
  /** The block an existing stack was deployed on (adopted from a shared backend): kept if free here. */
  prefer?: number,
): Promise<number> {
  const existing = catalog.getLease(name);
  if (existing) return existing.block;
  if (prefer !== undefined && !catalog.leases().some((l) => l.block === prefer)) {
    try {
      return catalog.leaseBlock(name, MAX_BLOCK, (b) => b === prefer).block;
    } catch (err) {
      if (!takenMeanwhile(err)) throw catalogBusy(err, catalog) ?? err;
    }
  }
  const skip = new Set(catalog.leases().map((l) => l.block));
  for (;;) {
    const n = await freeBlock(spec, skip);
    if (n === undefined) {
      throw new UserError(
        `no free port block for ${name}: every block is leased or has busy host ports`,
      );
    }
    try {
      return catalog.leaseBlock(name, MAX_BLOCK, (b) => b === n).block;
    } catch (err) {
      if (!takenMeanwhile(err)) throw catalogBusy(err, catalog) ?? err;
      skip.add(n); // leased by a concurrent envctl between the scan and the insert
    }
  }
}

/**
 * A spec with fixed ports (an A3sfile's: no block) cannot run twice: refused (exit 2) while
 * another env of this home that is not stopped has any of them, naming the env and the ports.
 */
export function refuseHeldFixedPorts(
  catalog: Catalog,
  name: string,
  services: EnvSpec["services"] | ResolvedService[],
): void {
  const mine = new Set(fixedPorts(services));
  if (mine.size === 0) return;
  const clashes = catalog.listEnvs().flatMap((e) => {
    if (e.name === name || e.state === "stopped" || !e.resolved) return [];
    const ports = fixedPorts(e.resolved.services).filter((p) => mine.has(p));
    return ports.length > 0 ? [{ env: e.name, ports }] : [];
  });
  if (clashes.length === 0) return;
  const first = clashes[0]!;
  throw new UserError(
    `env ${first.env} already has port${first.ports.length > 1 ? "s" : ""} ${first.ports.join(", ")}: the spec's ports are fixed (an A3sfile has no port blocks), so two envs of it cannot run at once`,
    2,
    [
      ...clashes.slice(1).map((c) => `env ${c.env} has ${c.ports.join(", ")} too`),
      `stop it first (\`envctl stop ${first.env}\`), or destroy it; nothing was created`,
    ],
  );
}
