/**
 * The hivesync preset (sample backend and worker; postgres, redis and Caddy stand-ins built
 * from debian:bookworm), two figures, each against its baseline in the same run:
 *
 * - redeploy of a changed backend (APP_VERSION): time from the start of the deploy until the
 *   new version answers, and failed requests meanwhile (a request loop): `envctl up` behind
 *   the proxy (new container first) vs `docker compose up -d` of the same change on the same
 *   files (which recreates in place);
 * - backup and restore of a ~100 MB database: `envctl backup` / `envctl restore` (archive,
 *   checks, stop/start, health) vs plain `pg_dump -Fc` / `pg_restore` in the container.
 *
 *   npm run bench:hivesync -- --rounds 3
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { tempDir, tempHome } from "../test/support/env";
import { buildCaddyStandin, CADDY_STANDIN, makeHivesyncWorkspace } from "../test/support/hivesync";
import {
  benchEnv,
  destroyEnv,
  ENVCTL,
  log,
  reserveLowBlocks,
  result,
  run,
  runAloneWithRounds,
  withCleanup,
  type BenchResult,
} from "./support";
import { freePort } from "../test/support/sshd";

const PROJECT = "bhs-compose";
const DOMAIN = "bench.localhost";

function get(port: number, host?: string): Promise<{ ok: boolean; version?: string }> {
  return new Promise((resolve) => {
    const req = http.get(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        agent: false,
        timeout: 5000,
        ...(host ? { headers: { host } } : {}),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        // A response cut off midway (the old container stopped under it) ends with an error
        // or a close, not an end: a failed request all the same.
        res.on("error", () => resolve({ ok: false }));
        res.on("close", () => {
          if (!res.complete) resolve({ ok: false });
        });
        res.on("end", () => {
          try {
            resolve({
              ok: res.statusCode === 200,
              version: (JSON.parse(body) as { version: string }).version,
            });
          } catch {
            resolve({ ok: false });
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ ok: false }));
  });
}

/**
 * Runs `deploy` with a request loop on `port`: ms from the deploy's start until `version`
 * answers, and the requests that failed from the start until then.
 */
async function timeRedeploy(
  port: number,
  host: string | undefined,
  version: string,
  deploy: () => Promise<unknown>,
): Promise<{ ms: number; failed: number; requests: number }> {
  const start = performance.now();
  let servedAt = 0;
  let failed = 0;
  let requests = 0;
  const loop = (async () => {
    while (!servedAt && performance.now() - start < 300_000) {
      const r = await get(port, host);
      requests++;
      if (!r.ok) failed++;
      else if (r.version === version) servedAt = performance.now();
    }
  })();
  await deploy();
  await loop;
  return { ms: servedAt - start, failed, requests };
}

export async function hivesyncBench(opts: { rounds?: number } = {}): Promise<BenchResult[]> {
  const rounds = opts.rounds ?? 3;
  const home = tempHome();
  const root = tempDir("bench-hivesync");
  const env = benchEnv(home);
  const name = "bhs";
  let ws: ReturnType<typeof makeHivesyncWorkspace> | undefined;
  const composeFiles = (): string[] => [
    "-p",
    PROJECT,
    "-f",
    path.join(ws!.repo, "docker-compose.yml"),
    "-f",
    path.join(ws!.repo, "standins", "docker-compose.standins.yml"),
  ];
  const compose = async (version: string, ...args: string[]): Promise<void> => {
    await run({
      label: `docker compose ${args[0]}`,
      file: "docker",
      args: ["compose", ...composeFiles(), ...args],
      cwd: ws!.repo,
      env: { ...env, APP_VERSION: version },
    });
  };
  const envctl = async (version: string, ...args: string[]): Promise<string> =>
    (
      await run({
        label: `envctl ${args[0]}`,
        file: ENVCTL,
        args,
        cwd: ws!.repo,
        env: { ...env, APP_VERSION: version },
      })
    ).stdout;

  const measure = async (): Promise<BenchResult[]> => {
    buildCaddyStandin();
    const httpPort = await freePort();
    ws = makeHivesyncWorkspace(root, {
      hivesync: {
        proxy: {
          domain: DOMAIN,
          tls: false,
          http_port: httpPort,
          https_port: await freePort(),
          image: CADDY_STANDIN,
        },
      },
    });
    reserveLowBlocks(home);
    log("hivesync: first deploys (images built, not timed)");
    await envctl("0", "up", name, "-f", ws.spec, "--yes");
    await compose("0", "up", "-d", "--wait");

    const e: number[] = [];
    const c: number[] = [];
    let eFailed = 0;
    let cFailed = 0;
    for (let i = 1; i <= rounds; i++) {
      const v = String(i);
      const first = i % 2 === 1;
      const sides = [
        async () => {
          const r = await timeRedeploy(httpPort, DOMAIN, v, () =>
            envctl(v, "up", name, "-f", ws!.spec, "--yes"),
          );
          e.push(r.ms);
          eFailed += r.failed;
        },
        async () => {
          const r = await timeRedeploy(4000, undefined, v, () => compose(v, "up", "-d"));
          c.push(r.ms);
          cFailed += r.failed;
        },
      ];
      for (const side of first ? sides : [...sides].reverse()) await side();
      log(
        `  run ${i}/${rounds}: envctl ${Math.round(e.at(-1)!)} ms, compose ${Math.round(c.at(-1)!)} ms`,
      );
    }
    const redeploy = result(
      "hivesync-redeploy",
      { label: "envctl up (proxy, new container first)", times: e },
      { label: "docker compose up -d (recreate)", times: c },
      {
        extra: { envctl_failed_requests: eFailed, compose_failed_requests: cFailed },
        notes: [
          `time from the start of the deploy until the changed backend answers; failed requests meanwhile: envctl ${eFailed}, compose ${cFailed} (over ${rounds} redeploys each)`,
          "envctl's time includes its engine start and the health-gated start of the new container beside the old; compose stops the old one first",
        ],
      },
    );

    log("hivesync: filling a ~100 MB table");
    const pg = `envctl-${name}-postgres`;
    const psql = (sql: string): string =>
      execFileSync(
        "docker",
        ["exec", pg, "psql", "-U", "hivesync", "-d", "hivesync", "-tAc", sql],
        { encoding: "utf8" },
      ).trim();
    psql("create table if not exists blobs (id int primary key, body text)");
    // Random hex (1 KB a row): about as compressible as real data, unlike a repeated string.
    psql(
      "insert into blobs select g, (select string_agg(md5(random()::text || g::text || s::text), '') from generate_series(1, 32) s) from generate_series(1, 100000) g on conflict do nothing",
    );
    const size = psql("select pg_database_size('hivesync')");
    const dumpFile = path.join(root, "plain.dump");
    const backups: number[] = [];
    const dumps: number[] = [];
    const restores: number[] = [];
    const plainRestores: number[] = [];
    let archive = "";
    for (let i = 0; i < rounds; i++) {
      let t = performance.now();
      archive = (await envctl("0", "backup", name)).trim();
      backups.push(performance.now() - t);
      t = performance.now();
      fs.writeFileSync(
        dumpFile,
        execFileSync("docker", ["exec", pg, "pg_dump", "-Fc", "-U", "hivesync", "-d", "hivesync"], {
          maxBuffer: 1 << 30,
        }),
      );
      dumps.push(performance.now() - t);
      t = performance.now();
      await envctl("0", "restore", name, archive);
      restores.push(performance.now() - t);
      t = performance.now();
      execFileSync(
        "docker",
        [
          "exec",
          "-i",
          pg,
          "pg_restore",
          "--clean",
          "--if-exists",
          "--no-owner",
          "--single-transaction",
          "-U",
          "hivesync",
          "-d",
          "hivesync",
        ],
        { input: fs.readFileSync(dumpFile), maxBuffer: 1 << 30 },
      );
      plainRestores.push(performance.now() - t);
      log(
        `  run ${i + 1}/${rounds}: backup ${Math.round(backups.at(-1)!)} ms vs pg_dump ${Math.round(dumps.at(-1)!)} ms; restore ${Math.round(restores.at(-1)!)} ms vs pg_restore ${Math.round(plainRestores.at(-1)!)} ms`,
      );
    }
    const sizeNote = `database ${(Number(size) / 1e6).toFixed(0)} MB; dump ${(fs.statSync(dumpFile).size / 1e6).toFixed(0)} MB; archive ${(fs.statSync(archive).size / 1e6).toFixed(0)} MB`;
    return [
      redeploy,
      result(
        "hivesync-backup",
        { label: "envctl backup", times: backups },
        { label: "pg_dump -Fc in the container", times: dumps },
        {
          notes: [
            sizeNote,
            "envctl's backup adds the archive (gzip), the config and metadata, and its engine-free CLI start",
          ],
        },
      ),
      result(
        "hivesync-restore",
        { label: "envctl restore", times: restores },
        { label: "pg_restore in the container", times: plainRestores },
        {
          notes: [
            "envctl's restore adds the archive check (unpack, checksums, pg_restore --list), stopping and starting backend and worker, and the health check",
          ],
        },
      ),
    ];
  };

  const cleanup = async (): Promise<void> => {
    if (ws) {
      // Compose's containers first: they run the same built images as the env's.
      await compose("0", "down", "-v").catch(() => undefined);
      await destroyEnv(home, name, ws.repo).catch((e: unknown) => log((e as Error).message));
    }
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(home.root, { recursive: true, force: true });
  };
  return withCleanup("hivesync", measure, cleanup);
}

if (require.main === module) runAloneWithRounds(hivesyncBench);
