/**
 * The host catalog's get, list of 100 hosts and heartbeat update, against hive-catalog's
 * published figures (~1 ms, ~5 ms, ~1 ms), against raw SQL on the same file in the same run, and
 * through the CLI.
 *
 * In process: median µs per call through lib/hosts (`catalog.hosts`), each call interleaved
 * with the same SQL run through a bare better-sqlite3 statement (no validation, no row mapping:
 * the baseline), so drift hits both alike. Per process: a fresh `node -e` that opens the catalog
 * and does one operation, against one that opens the file with better-sqlite3 and runs the raw
 * SQL, so what starting node and loading envctl's catalog cost is visible; `node -e 0` is the
 * floor. Through the CLI: `envctl host show h-042 --json`, `envctl host list --json` and
 * `envctl host check h-042 --json` (which probes h-042, a local HTTP server of the bench's that
 * answers `GET /_ping`, and writes its status and heartbeat), against `node -e 0`, with
 * `envctl --version` (node and the CLI, no command loaded) to show where the time goes.
 * Run alone: `node dist/bench/hosts.js`.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import Database from "better-sqlite3";
import { Catalog } from "../lib/catalog/catalog";
import type { HostCatalog, NewHost } from "../lib/hosts/catalog";
import { tempHome } from "../test/support/env";
import {
  benchEnv,
  cmdSide,
  ENVCTL,
  log,
  median,
  ms,
  result,
  ROOT,
  run,
  runAlone,
  timeSides,
  withCleanup,
  type BenchResult,
  type Cmd,
  type Side,
} from "./support";

export interface HostsBenchOptions {
  /** Hosts in the catalog besides localhost (which the CLI registers). @default 100 */
  hosts?: number;
  /** Timed calls per side, in process. @default { get: 2000, list: 200, heartbeat: 2000 } */
  calls?: { get: number; list: number; heartbeat: number };
  /** Timed runs per side of each `node -e` and `envctl` command. @default 15 */
  runs?: number;
}

/** hive-catalog's figures (seeds/002, "Performance Characteristics"), in µs. */
const DOCUMENT_US = { get: 1000, list: 5000, heartbeat: 1000 };

const SQL = {
  get: "SELECT * FROM hosts WHERE id = ?",
  list: "SELECT * FROM hosts ORDER BY id",
  heartbeat: "UPDATE hosts SET last_heartbeat_ms = ? WHERE id = ?",
};

/** The host every side reads and heartbeats: h-042, served by the bench's `/_ping` server. */
const TARGET_INDEX = 42;

type Op = keyof typeof DOCUMENT_US;

function hostId(i: number): string {
  return `h-${String(i).padStart(3, "0")}`;
}

/**
 * Host i: every other one over SSH, a third online, a third offline, 0-2 GPUs each. With
 * `pingPort` it is reached directly at 127.0.0.1:pingPort instead (no SSH), so `host check`
 * probes it over TCP and HTTP.
 */
function benchHost(i: number, pingPort?: number): NewHost {
  const id = hostId(i);
  const direct = pingPort !== undefined;
  const ssh =
    !direct && i % 2 === 0
      ? { sshHost: `10.0.${i >> 8}.${i & 255}`, sshPort: 22, sshUser: "admin" }
      : {};
  return {
    id,
    host: direct ? "127.0.0.1" : `${id}.example.internal`,
    port: pingPort ?? 2375,
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

/** A stand-in Docker engine on a free loopback port: `GET /_ping` answers 200 `OK`. */
interface PingServer {
  port: number;
  /** `/_ping` requests answered so far. */
  pings: () => number;
  close: () => Promise<void>;
}

async function startPingServer(): Promise<PingServer> {
  let pings = 0;
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/_ping") {
      pings++;
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": 2 });
      res.end("OK");
      return;
    }
    res.writeHead(404, { "content-length": 0 });
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    pings: () => pings,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
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

function times(x: number): string {
  return `${x < 10 ? x.toFixed(2) : Math.round(x)}x`;
}

interface ShowJson {
  host: { id: string };
}
interface ListJson {
  hosts: { id: string }[];
}
interface CheckJson {
  results: {
    id: string;
    status: string;
    via: string;
    reason: string | null;
    elapsedMs: number;
    lastHeartbeat: string | null;
  }[];
}

export async function hostsBench(opts: HostsBenchOptions = {}): Promise<BenchResult[]> {
  const count = opts.hosts ?? 100;
  const calls = opts.calls ?? { get: 2000, list: 200, heartbeat: 2000 };
  const runs = opts.runs ?? 15;
  if (count < 1) throw new Error("hosts: at least one host");
  const home = tempHome();
  const file = home.catalogFile;
  let catalog: Catalog | undefined;
  let db: Database.Database | undefined;
  let ping: PingServer | undefined;

  const measure = async (): Promise<BenchResult[]> => {
    ping = await startPingServer();
    const server = ping;
    const targetIndex = Math.min(TARGET_INDEX, count - 1);
    const target = hostId(targetIndex);
    log(`hosts: ${count} hosts in ${file}; ${target} is 127.0.0.1:${server.port} (GET /_ping)`);
    catalog = Catalog.open(file);
    const hosts: HostCatalog = catalog.hosts;
    for (let i = 0; i < count; i++) {
      hosts.add(benchHost(i, i === targetIndex ? server.port : undefined));
    }

    // Every `envctl host` command registers localhost first; do it once, untimed, so each side
    // (in process, node -e, CLI) sees the same hosts: ours and localhost.
    const env = benchEnv(home);
    const envctl = (args: string[]): Cmd => ({
      label: `envctl ${args.join(" ")}`,
      file: process.execPath,
      args: [ENVCTL, ...args],
      cwd: ROOT,
      env,
    });
    const total = count + 1;
    const listIds = (stdout: string): string[] =>
      (JSON.parse(stdout) as ListJson).hosts.map((h) => h.id);
    const first = listIds((await run(envctl(["host", "list", "--json"]))).stdout);
    if (first.length !== total || !first.includes("localhost")) {
      throw new Error(
        `hosts: envctl host list shows ${first.length} hosts, not ${count} + localhost`,
      );
    }

    db = new Database(file);
    db.pragma("busy_timeout = 15000");
    const raw = {
      get: db.prepare(SQL.get),
      list: db.prepare(SQL.list),
      heartbeat: db.prepare(SQL.heartbeat),
    };
    // Sanity: both sides see the same data.
    if (hosts.get(target)?.id !== target || (raw.get.get(target) as { id: string }).id !== target) {
      throw new Error(`hosts: ${target} not found`);
    }
    if (hosts.list().length !== total || raw.list.all().length !== total) {
      throw new Error(`hosts: list is not ${total} hosts`);
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

    log(`hosts: per process, ${runs} runs of each node -e and envctl command`);
    // Built: dist/lib/catalog/catalog.js; under tsx the .ts source, which the child loads through tsx too.
    const catalogModule = require.resolve("../lib/catalog/catalog");
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
        cmdSide(node("node -e hosts.list", viaApi("c.hosts.list().length")), expect(`${total}`)),
        cmdSide(
          node(
            "node -e SELECT all",
            viaSql(`db.prepare(${JSON.stringify(SQL.list)}).all().length`),
          ),
          expect(`${total}`),
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
    const floor = cmdSide(node("node -e 0", "0"));
    // envctl's catalog loads zod (lib/hosts validates with it), which the CLI loads anyway.
    const zod = cmdSide(node("node -e require zod", `require(${JSON.stringify(zodModule)})`));

    // The CLI: the same three operations, each checked, and its start-up alone.
    const cliShow = cmdSide(envctl(["host", "show", target, "--json"]), (out) => {
      const shown = (JSON.parse(out.stdout) as ShowJson).host.id;
      if (shown !== target) throw new Error(`envctl host show ${target} showed ${shown}`);
    });
    const cliList = cmdSide(envctl(["host", "list", "--json"]), (out) => {
      const n = listIds(out.stdout).length;
      if (n !== total) throw new Error(`envctl host list showed ${n} hosts, not ${total}`);
    });
    const probeMs: number[] = [];
    const checkCmd = envctl(["host", "check", target, "--json"]);
    const cliCheck: Side = {
      label: checkCmd.label,
      once: async (_run, warmup) => {
        const pingsBefore = server.pings();
        const out = await run(checkCmd);
        // Untimed: it probed our server over TCP and HTTP, found it online, and the catalog now
        // holds status online and a heartbeat at least as new as the check's (newest wins).
        const fail = (why: string): Error => new Error(`${checkCmd.label}: ${why}`);
        const r = (JSON.parse(out.stdout) as CheckJson).results[0];
        if (r?.id !== target || r.status !== "online" || r.lastHeartbeat === null) {
          throw fail(`not online: ${r?.reason ?? out.stdout}`);
        }
        if (r.via !== "tcp") throw fail(`probed via ${r.via}, not tcp`);
        if (server.pings() === pingsBefore) throw fail("GET /_ping never reached the server");
        const stored = hosts.get(target);
        if (
          stored?.status !== "online" ||
          (stored.lastHeartbeatMs ?? 0) < Date.parse(r.lastHeartbeat)
        ) {
          throw fail(`catalog holds ${stored?.status}, heartbeat ${stored?.lastHeartbeatMs}`);
        }
        if (!warmup) probeMs.push(r.elapsedMs);
        return out.ms;
      },
    };
    const version = cmdSide(envctl(["--version"]), (out) => {
      if (!/^\d+\.\d+\.\d+/.test(out.stdout.trim())) {
        throw new Error(`envctl --version printed ${out.stdout}`);
      }
    });

    const t = await timeSides(
      [
        ...sides.get,
        ...sides.list,
        ...sides.heartbeat,
        floor,
        zod,
        cliShow,
        cliList,
        cliCheck,
        version,
      ],
      runs,
    );
    const floorTimes = t[6];
    const floorMs = median(floorTimes);
    const zodMs = median(t[7]) - floorMs;
    const cliTimes: Record<Op, number[]> = { get: t[8], list: t[9], heartbeat: t[10] };
    const versionMs = median(t[11]);

    const ops: [Op, string][] = [
      ["get", "get"],
      ["list", `list of ${total} (${count} + localhost)`],
      ["heartbeat", "heartbeat update"],
    ];
    const perProcess = ops.map(([op, what], k) => {
      const [apiUs, rawUs] = inProcess[op];
      const doc = DOCUMENT_US[op];
      const api = t[2 * k]!;
      const sql = t[2 * k + 1]!;
      const notes = [
        `in process, ${what}: envctl ${us(apiUs)}, raw SQL ${us(rawUs)} ` +
          `(${(apiUs / rawUs).toFixed(2)}x; median of ${calls[op]} calls each); ` +
          `document ~${ms(doc / 1000)}: document/envctl ${Math.round(doc / apiUs)}x`,
      ];
      if (k === 0) {
        notes.push(
          `per process: node -e 0 alone ${ms(floorMs)}; over it, opening the catalog and one ` +
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

    const cliLabels: Record<Op, string> = {
      get: cliShow.label,
      list: cliList.label,
      heartbeat: cliCheck.label,
    };
    const throughCli = ops.map(([op, what], k) => {
      const cliMs = median(cliTimes[op]);
      const apiUs = inProcess[op][0];
      const nodeApiMs = median(t[2 * k]!);
      const apiLabel = sides[op][0].label;
      const notes = [
        `${what} through the CLI ${ms(cliMs)}: node -e 0 ${ms(floorMs)}, ${apiLabel} ` +
          `${ms(nodeApiMs)}, in process ${us(apiUs)}; CLI/in-process ${times((cliMs * 1000) / apiUs)}, ` +
          `CLI/node -e 0 ${times(cliMs / floorMs)}, CLI/${apiLabel} ${times(cliMs / nodeApiMs)}`,
        `in parts: node ${ms(floorMs)}, envctl's start-up ${ms(versionMs - floorMs)} (to ` +
          `--version), the command ${ms(cliMs - versionMs)} (${apiLabel} does the catalog's ` +
          `part in ${ms(nodeApiMs - floorMs)} over node)`,
      ];
      if (k === 0) {
        notes.unshift(
          `envctl --version (node, the CLI's entry point and commander; no command loaded): ` +
            `${ms(versionMs)}, ${ms(versionMs - floorMs)} over node -e 0`,
        );
      }
      if (op === "heartbeat") {
        notes.push(
          `host check probes ${target} (TCP connect held 150 ms by lib/runtime/probes' settle wait, ` +
            `then GET /_ping): ${ms(median(probeMs))} of it (its own elapsedMs, median), then ` +
            `writes the status and the heartbeat`,
        );
      }
      const extra: Record<string, number> = {
        in_process_us: Math.round(apiUs * 10) / 10,
        node_e_api_ms: Math.round(nodeApiMs),
        node_floor_ms: Math.round(floorMs),
        envctl_version_ms: Math.round(versionMs),
        cli_over_in_process: Math.round((cliMs * 1000) / apiUs),
        cli_over_node_floor: Math.round((cliMs / floorMs) * 100) / 100,
        cli_over_node_e_api: Math.round((cliMs / nodeApiMs) * 100) / 100,
      };
      if (op === "heartbeat") extra.probe_ms = Math.round(median(probeMs));
      return result(
        `hosts-cli-${op}`,
        { label: cliLabels[op], times: cliTimes[op] },
        { label: floor.label, times: floorTimes },
        { notes, extra },
      );
    });
    return [...perProcess, ...throughCli];
  };

  const cleanup = async (): Promise<void> => {
    await ping?.close();
    db?.close();
    catalog?.close();
    await fs.promises.rm(home.root, { recursive: true, force: true });
  };

  return withCleanup("hosts", measure, cleanup);
}

if (require.main === module) runAlone(() => hostsBench());
