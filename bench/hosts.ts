/**
 * The host catalog's get, list of 100 hosts and heartbeat update, against hive-catalog's
 * published figures (~1 ms, ~5 ms, ~1 ms) and against raw SQL on the same file in the same run.
 *
 * In process: median µs per call through lib/hosts (`catalog.hosts`), each call interleaved
 * with the same SQL run through a bare better-sqlite3 statement (no validation, no row mapping:
 * the baseline), so drift hits both alike. Per process: a fresh `node -e` that opens the catalog
 * and does one operation, against one that opens the file with better-sqlite3 and runs the raw
 * SQL, so what starting node and loading envctl's catalog cost is visible; `node -e ""` is the
 * floor. The CLI (`envctl host show/list`) will be a third side of these rows.
 * Run alone: `node dist/bench/hosts.js`.
 */
import * as fs from "node:fs";
import Database from "better-sqlite3";
import { Catalog } from "../lib/catalog";
import type { HostCatalog, NewHost } from "../lib/hosts";
import { tempHome } from "../test/support/env";
import {
  cmdSide,
  log,
  median,
  ms,
  result,
  ROOT,
  runAlone,
  timeSides,
  withCleanup,
  type BenchResult,
  type Cmd,
} from "./support";

export interface HostsBenchOptions {
  /** Hosts in the catalog (and in each list). @default 100 */
  hosts?: number;
  /** Timed calls per side, in process. @default { get: 2000, list: 200, heartbeat: 2000 } */
  calls?: { get: number; list: number; heartbeat: number };
  /** Timed `node -e` runs per side. @default 15 */
  runs?: number;
}

/** hive-catalog's figures (seeds/002, "Performance Characteristics"), in µs. */
const DOCUMENT_US = { get: 1000, list: 5000, heartbeat: 1000 };

const SQL = {
  get: "SELECT * FROM hosts WHERE id = ?",
  list: "SELECT * FROM hosts ORDER BY id",
  heartbeat: "UPDATE hosts SET last_heartbeat_ms = ? WHERE id = ?",
};

type Op = keyof typeof DOCUMENT_US;

/** Host i: every other one over SSH, a third online, a third offline, 0-2 GPUs each. */
function benchHost(i: number): NewHost {
  const id = `host-${String(i).padStart(3, "0")}`;
  const ssh =
    i % 2 === 0 ? { sshHost: `10.0.${i >> 8}.${i & 255}`, sshPort: 22, sshUser: "admin" } : {};
  return {
    id,
    host: `${id}.example.internal`,
    port: 2375,
    ...ssh,
    status: (["unknown", "online", "offline"] as const)[i % 3],
    devices: {
      cpu: { cores: 16, ramGb: 64 },
      gpus: Array.from({ length: i % 3 }, (_, g) => ({
        index: g,
        name: "NVIDIA RTX 4090",
        vramGb: 24,
      })),
    },
  };
}

/**
 * Median µs per call of `api` and `raw`, run alternately (api first on even calls, raw first on
 * odd ones) after up to 100 untimed calls of each.
 */
function interleaved(n: number, api: () => unknown, raw: () => unknown): [number, number] {
  for (let i = 0; i < Math.min(n, 100); i++) {
    api();
    raw();
  }
  const a: number[] = [];
  const b: number[] = [];
  const time = (fn: () => unknown, into: number[]): void => {
    const start = process.hrtime.bigint();
    fn();
    into.push(Number(process.hrtime.bigint() - start) / 1000);
  };
  for (let i = 0; i < n; i++) {
    const order: [() => unknown, number[]][] = [
      [api, a],
      [raw, b],
    ];
    if (i % 2 === 1) order.reverse();
    for (const [fn, into] of order) time(fn, into);
  }
  return [median(a), median(b)];
}

function us(x: number): string {
  return `${x < 100 ? x.toFixed(1) : Math.round(x)} µs`;
}

export async function hostsBench(opts: HostsBenchOptions = {}): Promise<BenchResult[]> {
  const count = opts.hosts ?? 100;
  const calls = opts.calls ?? { get: 2000, list: 200, heartbeat: 2000 };
  const runs = opts.runs ?? 15;
  const home = tempHome();
  const file = home.catalogFile;
  let catalog: Catalog | undefined;
  let db: Database.Database | undefined;

  const measure = async (): Promise<BenchResult[]> => {
    log(`hosts: ${count} hosts in ${file}`);
    catalog = Catalog.open(file);
    const hosts: HostCatalog = catalog.hosts;
    for (let i = 0; i < count; i++) hosts.add(benchHost(i));
    db = new Database(file);
    db.pragma("busy_timeout = 15000");
    const raw = {
      get: db.prepare(SQL.get),
      list: db.prepare(SQL.list),
      heartbeat: db.prepare(SQL.heartbeat),
    };
    const target = benchHost(Math.floor(count / 2)).id;
    // Sanity: both sides see the same data.
    if (hosts.get(target)?.id !== target || (raw.get.get(target) as { id: string }).id !== target) {
      throw new Error(`hosts: ${target} not found`);
    }
    if (hosts.list().length !== count || raw.list.all().length !== count) {
      throw new Error(`hosts: list is not ${count} hosts`);
    }

    log(`hosts: in process, ${calls.get} gets, ${calls.list} lists, ${calls.heartbeat} heartbeats`);
    let ts = Date.now();
    const inProcess: Record<Op, [number, number]> = {
      get: interleaved(
        calls.get,
        () => hosts.get(target),
        () => raw.get.get(target),
      ),
      list: interleaved(
        calls.list,
        () => hosts.list(),
        () => raw.list.all(),
      ),
      heartbeat: interleaved(
        calls.heartbeat,
        () => hosts.updateHeartbeat(target, ++ts),
        () => raw.heartbeat.run(++ts, target),
      ),
    };
    if (hosts.get(target)?.lastHeartbeatMs !== ts) throw new Error("hosts: heartbeats lost");

    log(`hosts: per process, ${runs} runs of each node -e`);
    // Built: dist/lib/catalog.js; under tsx the .ts source, which the child loads through tsx too.
    const catalogModule = require.resolve("../lib/catalog");
    const sqliteModule = require.resolve("better-sqlite3");
    const zodModule = require.resolve("zod");
    const nodeArgs = catalogModule.endsWith(".ts") ? ["--import", "tsx"] : [];
    const node = (label: string, script: string): Cmd => ({
      label,
      file: process.execPath,
      args: [...nodeArgs, "-e", script],
      cwd: ROOT,
      env: process.env,
    });
    const viaApi = (op: string): string =>
      `const { Catalog } = require(${JSON.stringify(catalogModule)});
       const c = Catalog.open(${JSON.stringify(file)});
       const out = ${op};
       c.close();
       process.stdout.write(String(out));`;
    const viaSql = (op: string): string =>
      `const Database = require(${JSON.stringify(sqliteModule)});
       const db = new Database(${JSON.stringify(file)});
       db.pragma("busy_timeout = 15000");
       const out = ${op};
       db.close();
       process.stdout.write(String(out));`;
    const id = JSON.stringify(target);
    const expect = (want: string) => (out: { stdout: string }) => {
      if (out.stdout !== want) throw new Error(`expected ${want}, got ${out.stdout}`);
    };
    const sides = {
      get: [
        cmdSide(node("node -e hosts.get", viaApi(`c.hosts.get(${id}).id`)), expect(target)),
        cmdSide(
          node(
            "node -e SELECT by id",
            viaSql(`db.prepare(${JSON.stringify(SQL.get)}).get(${id}).id`),
          ),
          expect(target),
        ),
      ],
      list: [
        cmdSide(node("node -e hosts.list", viaApi("c.hosts.list().length")), expect(`${count}`)),
        cmdSide(
          node(
            "node -e SELECT all",
            viaSql(`db.prepare(${JSON.stringify(SQL.list)}).all().length`),
          ),
          expect(`${count}`),
        ),
      ],
      heartbeat: [
        cmdSide(
          node(
            "node -e updateHeartbeat",
            viaApi(`(c.hosts.updateHeartbeat(${id}, Date.now()), 1)`),
          ),
          expect("1"),
        ),
        cmdSide(
          node(
            "node -e UPDATE heartbeat",
            viaSql(`db.prepare(${JSON.stringify(SQL.heartbeat)}).run(Date.now(), ${id}).changes`),
          ),
          expect("1"),
        ),
      ],
    } as const;
    const floor = cmdSide(node('node -e ""', ""));
    // envctl's catalog loads zod (lib/hosts validates with it), which the CLI loads anyway.
    const zod = cmdSide(node("node -e require zod", `require(${JSON.stringify(zodModule)})`));
    const times = await timeSides(
      [...sides.get, ...sides.list, ...sides.heartbeat, floor, zod],
      runs,
    );
    const floorMs = median(times[6]);
    const zodMs = median(times[7]) - floorMs;

    const ops: [Op, string][] = [
      ["get", "get"],
      ["list", `list of ${count}`],
      ["heartbeat", "heartbeat update"],
    ];
    return ops.map(([op, what], k) => {
      const [apiUs, rawUs] = inProcess[op];
      const doc = DOCUMENT_US[op];
      const api = times[2 * k]!;
      const sql = times[2 * k + 1]!;
      const notes = [
        `in process, ${what}: envctl ${us(apiUs)}, raw SQL ${us(rawUs)} ` +
          `(${(apiUs / rawUs).toFixed(2)}x; median of ${calls[op]} calls each); ` +
          `document ~${ms(doc / 1000)}: document/envctl ${Math.round(doc / apiUs)}x`,
      ];
      if (k === 0) {
        notes.push(
          `per process: node -e "" alone ${ms(floorMs)}; over it, opening the catalog and one ` +
            `operation cost envctl ${ms(median(api) - floorMs)} and raw better-sqlite3 ${ms(median(sql) - floorMs)}`,
          `per process: loading zod alone costs ${ms(zodMs)} over node's floor (the CLI loads ` +
            `it for spec parsing anyway)`,
        );
      }
      const extra = {
        api_us: Math.round(apiUs * 10) / 10,
        raw_us: Math.round(rawUs * 10) / 10,
        document_us: doc,
        document_over_envctl: Math.round(doc / apiUs),
        node_floor_ms: Math.round(floorMs),
        zod_load_ms: Math.round(zodMs),
      };
      return result(
        `hosts-${op}`,
        { label: sides[op][0].label, times: api },
        { label: sides[op][1].label, times: sql },
        { notes, extra },
      );
    });
  };

  const cleanup = async (): Promise<void> => {
    db?.close();
    catalog?.close();
    await fs.promises.rm(home.root, { recursive: true, force: true });
  };

  return withCleanup("hosts", measure, cleanup);
}

if (require.main === module) runAlone(() => hostsBench());
