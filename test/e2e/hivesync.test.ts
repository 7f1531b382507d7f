/**
 * The hivesync kind for real on the local target: the preset's compose app (sample backend and
 * worker, postgres and redis built from debian:bookworm in place of the public images) under
 * the real Pulumi engine and Docker. One env goes through a deploy (migration, health check),
 * serves a job end to end, keeps its secrets out of every file and output envctl writes, reports
 * health as the document's script does (ok, degraded, fail, with exit codes), fails a deploy on
 * a failing step with the step's output, generates and keeps secrets, and leaves nothing behind.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- JSON documents read back from the CLI */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Catalog } from "../../lib/catalog/catalog";
import { assertNoTrace, envctl, said, type Run } from "../support/cli";
import { dockerLeftovers, envName, tempDir, worktreeDirs } from "../support/env";
import {
  dotenvFrom,
  makeHivesyncWorkspace,
  TEST_SECRETS,
  writeSpec,
  type HivesyncWorkspace,
} from "../support/hivesync";

const docker = (...args: string[]): string =>
  execFileSync("docker", args, { encoding: "utf8" }).trim();
const containerEnv = (c: string): Record<string, string> =>
  Object.fromEntries(
    (JSON.parse(docker("inspect", "-f", "{{json .Config.Env}}", c)) as string[]).map((kv) => {
      const i = kv.indexOf("=");
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every file under `dir` that holds `needle` (bytes, so binary files count too). */
function filesHolding(dir: string, needle: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The preset's check, with a short heartbeat age and the GPU worker's queue (nothing takes it). */
const HEALTH = { max_heartbeat_age: "3s", queues: ["preview_build", "cleanup", "ai_jobs"] };

describe("the hivesync kind on the local target, for real", { timeout: 20 * 60_000 }, () => {
  const root = tempDir("hivesync");
  const home = path.join(root, "envctl-home");
  const name = envName("hs");
  const c = (svc: string): string => `envctl-${name}-${svc}`;
  let ws: HivesyncWorkspace;
  const runs: Run[] = [];
  const run = async (args: string[], timeoutMs = 10 * 60_000): Promise<Run> => {
    const r = await envctl(args, { home, cwd: ws.repo, timeoutMs });
    runs.push(r);
    assertNoTrace(r);
    return r;
  };
  let port = 0;
  let job = "";
  const api = async (p: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`http://127.0.0.1:${port}${p}`, {
      method: body === undefined ? "GET" : "POST",
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    return { status: res.status, json: await res.json() };
  };
  const status = async (): Promise<{ code: number | null; doc: Record<string, any> }> => {
    const r = await run(["status", name, "--json"]);
    return { code: r.code, doc: JSON.parse(r.stdout) as Record<string, any> };
  };

  before(() => {
    ws = makeHivesyncWorkspace(root, { hivesync: { health: HEALTH } });
  });
  after(async () => {
    await envctl(["destroy", name, "--yes", "--force"], { home, cwd: ws.repo }).catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("deploys: containers up, the migration run inside backend, the health check ok", async () => {
    const r = await run(["up", name, "-f", ws.spec, "--yes", "--json"]);
    assert.equal(r.code, 0, said(r));
    const doc = JSON.parse(r.stdout) as { outputs: { services: Record<string, any> } };
    port = doc.outputs.services.backend.ports["4000"] as number;
    assert.ok(port >= 10000, String(port));
    const ops = (JSON.parse(r.stdout) as { operations: { type: string; name: string }[] })
      .operations;
    assert.ok(
      ops.some((o) => o.type === "DeployStep"),
      JSON.stringify(ops),
    );
    assert.ok(ops.some((o) => o.type === "HealthGate"));
    assert.equal(docker("exec", c("backend"), "alembic", "current"), "0001");
    const tables = docker(
      "exec",
      c("postgres"),
      "psql",
      "-U",
      "hivesync",
      "-d",
      "hivesync",
      "-tAc",
      "select string_agg(tablename, ',' order by tablename) from pg_tables where schemaname = 'public'",
    );
    assert.equal(tables, "alembic_version,preview_jobs,projects");
    const h = await api("/health");
    assert.deepEqual(h, {
      status: 200,
      json: { postgres: "ok", redis: "ok", status: "ok", version: "1" },
    });
  });

  it("made /data's layout before backend and worker started, in the env's checkout", () => {
    const data = path.join(home, "worktrees", name, "data");
    for (const d of ["repos", "previews", "tmp", "logs", "cache"]) {
      assert.ok(fs.statSync(path.join(data, d)).isDirectory(), d);
    }
    const started = (svc: string): number =>
      Date.parse(docker("inspect", "-f", "{{.State.StartedAt}}", c(svc)));
    const initDone = Date.parse(docker("inspect", "-f", "{{.State.FinishedAt}}", c("data-init")));
    assert.ok(started("backend") >= initDone && started("worker") >= initDone);
  });

  it("a job queued through the API is taken by the worker and written under /data", async () => {
    const queued = await api("/api/v1/preview/build", { project: "demo" });
    assert.equal(queued.status, 202);
    job = (queued.json as { job_id: string }).job_id;
    let state = "";
    for (let i = 0; i < 100 && state !== "done"; i++) {
      state = ((await api(`/api/v1/preview/status/${job}`)).json as { status: string }).status;
      if (state !== "done") await sleep(100);
    }
    assert.equal(state, "done");
    const bundle = path.join(home, "worktrees", name, "data", "previews", job, "bundle.txt");
    assert.equal(fs.readFileSync(bundle, "utf8"), "preview of demo\n");
  });

  const psql = (sql: string): string =>
    docker("exec", c("postgres"), "psql", "-U", "hivesync", "-d", "hivesync", "-tAc", sql);
  const startedAt = (svc: string): string =>
    docker("inspect", "-f", "{{.State.StartedAt}}", c(svc));
  let archive = "";

  it("backup: pg_dump -Fc, the config (secrets encrypted) and metadata in one archive", async () => {
    for (const n of ["alpha", "beta", "gamma", "delta", "epsilon"]) {
      assert.equal((await api("/api/v1/projects", { name: n })).status, 201);
    }
    const r = await run(["backup", name, "--json"]);
    assert.equal(r.code, 0, said(r));
    const doc = JSON.parse(r.stdout) as { file: string; manifest: Record<string, any> };
    archive = doc.file;
    assert.equal(path.dirname(archive), path.join(home, "backups", name));
    assert.equal(fs.statSync(archive).mode & 0o777, 0o600);
    const m = doc.manifest;
    assert.equal(m.format, "envctl-backup/1");
    assert.equal(m.env, name);
    assert.deepEqual(m.database, { service: "postgres", user: "hivesync", db: "hivesync" });
    assert.deepEqual(Object.keys(m.files).sort(), [
      "database.dump",
      "env.json",
      "stack-settings.yaml",
    ]);
    assert.equal(
      m.revision,
      execFileSync("git", ["-C", ws.repo, "rev-parse", "HEAD"], { encoding: "utf8" }).trim(),
    );
    assert.match(m.images.backend, /^sha256:/);
    const out = fs.mkdtempSync(path.join(root, "unpacked-"));
    execFileSync("tar", ["-xzf", archive, "-C", out]);
    assert.equal(
      fs.readFileSync(path.join(out, "database.dump")).subarray(0, 5).toString(),
      "PGDMP",
    );
    assert.match(
      fs.readFileSync(path.join(out, "stack-settings.yaml"), "utf8"),
      /envctl:secrets:\n\s+secure: /,
    );
    for (const secret of Object.values(TEST_SECRETS))
      assert.deepEqual(filesHolding(out, secret), [], secret);
  });

  it("restore: a dropped table's rows come back exactly; backend and worker restarted; health ok", async () => {
    const rows = psql("select string_agg(id || ':' || name, ',' order by id) from projects");
    assert.match(rows, /^\d+:alpha,\d+:beta,\d+:gamma,\d+:delta,\d+:epsilon$/);
    psql("delete from projects; insert into projects (name) values ('intruder')");
    const before = {
      backend: startedAt("backend"),
      worker: startedAt("worker"),
      redis: startedAt("redis"),
    };
    const r = await run(["restore", name, archive]);
    assert.equal(r.code, 0, said(r));
    assert.equal(psql("select string_agg(id || ':' || name, ',' order by id) from projects"), rows);
    assert.notEqual(startedAt("backend"), before.backend);
    assert.notEqual(startedAt("worker"), before.worker);
    assert.equal(startedAt("redis"), before.redis);
    assert.match(r.stdout, /^Overall: ok$/m);
    assert.match(r.stderr, /stopping backend, worker for the restore/);
  });

  it("a truncated or foreign archive is refused (exit 1) with the database untouched", async () => {
    psql("insert into projects (name) values ('zeta')");
    const rows = psql("select count(*) from projects");
    const backendStarted = startedAt("backend");
    const half = path.join(root, "half.tar.gz");
    const whole = fs.readFileSync(archive);
    fs.writeFileSync(half, whole.subarray(0, Math.floor(whole.length / 2)));
    const foreignDir = fs.mkdtempSync(path.join(root, "foreign-"));
    fs.writeFileSync(
      path.join(foreignDir, "manifest.json"),
      JSON.stringify({ format: "envctl-backup/1", env: "someone-else", files: {} }),
    );
    const foreign = path.join(root, "foreign.tar.gz");
    execFileSync("tar", ["-czf", foreign, "-C", foreignDir, "manifest.json"]);
    const junk = path.join(root, "junk.tar.gz");
    fs.writeFileSync(junk, "not an archive at all\n");
    const cases: [string, RegExp][] = [
      [
        half,
        /is not a usable envctl backup of \S+: it does not unpack .*truncated, or not a \.tar\.gz/,
      ],
      [foreign, /is not a usable envctl backup of \S+: it is a backup of env someone-else/],
      [junk, /is not a usable envctl backup of \S+: it does not unpack/],
    ];
    for (const [file, re] of cases) {
      const r = await run(["restore", name, file]);
      assert.equal(r.code, 1, said(r));
      assert.match(r.stderr, re);
      assert.match(r.stderr, /nothing was restored; the database is as it was/);
    }
    assert.equal(psql("select count(*) from projects"), rows);
    assert.equal(startedAt("backend"), backendStarted);
  });

  it("export: database, config, the app's /data and the code as a git bundle", async () => {
    const r = await run(["export", name, "--json"]);
    assert.equal(r.code, 0, said(r));
    const doc = JSON.parse(r.stdout) as {
      file: string;
      manifest: { type: string; files: Record<string, string> };
    };
    assert.equal(doc.manifest.type, "export");
    assert.deepEqual(Object.keys(doc.manifest.files).sort(), [
      "code.bundle",
      "data.tar",
      "database.dump",
      "env.json",
      "stack-settings.yaml",
    ]);
    const out = fs.mkdtempSync(path.join(root, "export-"));
    execFileSync("tar", ["-xzf", doc.file, "-C", out]);
    const listing = execFileSync("tar", ["-tf", path.join(out, "data.tar")], { encoding: "utf8" });
    assert.match(listing, new RegExp(`^data/previews/${job}/bundle\\.txt$`, "m"));
    assert.match(listing, /^data\/repos\/$/m);
    execFileSync("git", ["-C", ws.repo, "bundle", "verify", path.join(out, "code.bundle")], {
      stdio: "ignore",
    });
  });

  it("backend and worker see the same values of every variable of the env file", () => {
    const template = dotenvFrom()
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.slice(0, l.indexOf("=")));
    const backend = containerEnv(c("backend"));
    const worker = containerEnv(c("worker"));
    assert.equal(template.length, 45); // the document's authoritative list
    for (const v of template) {
      assert.ok(v in backend, `backend lacks ${v}`);
      assert.equal(worker[v], backend[v], v);
    }
    // The secrets reached the containers as themselves (the tokens were filled).
    for (const [k, v] of Object.entries(TEST_SECRETS)) assert.equal(backend[k], v, k);
    assert.equal(containerEnv(c("postgres")).POSTGRES_PASSWORD, TEST_SECRETS.POSTGRES_PASSWORD);
  });

  it("status reports the document's health: Postgres, Redis, queue depths, heartbeats, ok (exit 0)", async () => {
    const { code, doc } = await status();
    assert.equal(code, 0, JSON.stringify(doc));
    assert.equal(doc.health.status, "ok");
    assert.deepEqual(doc.health.postgres, { ok: true, detail: "OK" });
    assert.deepEqual(doc.health.redis, { ok: true, detail: "PONG" });
    assert.deepEqual(doc.health.queues, { preview_build: 0, cleanup: 0, ai_jobs: 0 });
    assert.equal(doc.health.workers.length, 1);
    const human = await run(["status", name]);
    assert.match(human.stdout, /^Postgres: OK$/m);
    assert.match(human.stdout, /^Queue preview_build: 0$/m);
    assert.match(human.stdout, /^Overall: ok$/m);
  });

  it("no heartbeat, a stale one or a long queue is degraded (exit 3); Redis down is fail (exit 1)", async () => {
    docker("stop", "-t", "5", c("worker"));
    const degraded = await status();
    assert.equal(degraded.code, 1, "a stopped service the env should run fails the service check");
    assert.equal(degraded.doc.health.status, "degraded");
    // The worker removes its heartbeat when stopped; one killed leaves it to go stale.
    assert.deepEqual(degraded.doc.health.reasons, ["no worker heartbeat"]);
    docker("start", c("worker"));
    await sleep(1500);
    docker("kill", c("worker"));
    await sleep(4500);
    const stale = await status();
    assert.equal(stale.doc.health.status, "degraded");
    assert.match(
      stale.doc.health.reasons.join(" "),
      /^worker \S+: last heartbeat \d+s ago \(more than 3s\)$/,
    );
    docker("start", c("worker"));
    for (let i = 0; i < 50; i++) {
      if ((await status()).code === 0) break;
      await sleep(200);
    }
    assert.equal((await status()).code, 0);
    // Degraded alone (every service running): exit 3. A queue longer than the spec allows.
    docker(
      "exec",
      c("redis"),
      "sh",
      "-c",
      "for i in $(seq 1 101); do redis-cli rpush ai_jobs x >/dev/null; done",
    );
    const long = await status();
    assert.equal(long.code, 3, JSON.stringify(long.doc.health));
    assert.deepEqual(long.doc.health.reasons, ["queue ai_jobs holds 101 jobs (more than 100)"]);
    const human = await run(["status", name]);
    assert.equal(human.code, 3);
    assert.match(
      human.stdout,
      /^Overall: degraded \(queue ai_jobs holds 101 jobs \(more than 100\)\)$/m,
    );
    docker("exec", c("redis"), "redis-cli", "del", "ai_jobs");
    docker("stop", "-t", "1", c("redis"));
    const failed = await status();
    assert.equal(failed.code, 1);
    assert.equal(failed.doc.health.status, "fail");
    assert.equal(failed.doc.health.redis.ok, false);
    docker("start", c("redis"));
  });

  it("keeps every secret out of state, settings, catalog, logs and output", async () => {
    // A rotated key: preview shows the containers to replace, not the key.
    fs.writeFileSync(
      path.join(ws.repo, ".env"),
      dotenvFrom({ ...TEST_SECRETS, OPENAI_API_KEY: "sk-rotated-6c1d-key-for-tests" }),
    );
    const p = await run(["preview", name, "-f", ws.spec, "--json"]);
    assert.equal(p.code, 0, said(p));
    const replaced = (
      JSON.parse(p.stdout) as { operations: { op: string; name: string }[] }
    ).operations
      .filter((o) => o.op === "replace")
      .map((o) => o.name)
      .sort();
    assert.deepEqual(
      replaced.filter((n) => !n.includes("deploy")),
      [`${name}-backend`, `${name}-worker`],
    );
    const u = await run(["up", name, "-f", ws.spec, "--yes"]);
    assert.equal(u.code, 0, said(u));
    assert.equal(containerEnv(c("worker")).OPENAI_API_KEY, "sk-rotated-6c1d-key-for-tests");
    const settings = fs.readFileSync(path.join(home, "project", `Pulumi.${name}.yaml`), "utf8");
    assert.match(settings, /envctl:secrets:\n\s+secure: /);
    for (const secret of [...Object.values(TEST_SECRETS), "sk-rotated-6c1d-key-for-tests"]) {
      assert.deepEqual(filesHolding(home, secret), [], secret);
      for (const r of runs) {
        assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${secret} printed`);
      }
    }
  });

  it("a failing deploy step fails the deploy with the step's output; fixed, the next up passes", async () => {
    writeSpec(ws.spec, {
      health: HEALTH,
      deploy: { after: [{ service: "backend", run: "alembic downgrade base" }] },
    });
    const r = await run(["up", name, "-f", ws.spec, "--yes"]);
    assert.equal(r.code, 1, said(r));
    assert.match(r.stderr, /deploy step `alembic downgrade base` in backend exited with code 2/);
    assert.match(r.stderr, /\| usage: alembic upgrade head \| alembic current/);
    writeSpec(ws.spec, { health: HEALTH });
    const ok = await run(["up", name, "-f", ws.spec, "--yes"]);
    assert.equal(ok.code, 0, said(ok));
    assert.equal(docker("exec", c("backend"), "alembic", "current"), "0001");
  });

  it("--generate-secrets fills JWT_SECRET and PREVIEW_TOKEN_SECRET once and keeps them", async () => {
    const r = await run(["up", name, "-f", ws.spec, "--yes", "--generate-secrets"]);
    assert.equal(r.code, 0, said(r));
    const first = containerEnv(c("backend"));
    assert.match(first.JWT_SECRET!, /^[A-Za-z0-9_-]{64}$/);
    assert.match(first.PREVIEW_TOKEN_SECRET!, /^[A-Za-z0-9_-]{64}$/);
    assert.notEqual(first.JWT_SECRET, first.PREVIEW_TOKEN_SECRET);
    assert.equal(containerEnv(c("worker")).JWT_SECRET, first.JWT_SECRET);
    const again = await run(["up", name, "-f", ws.spec, "--yes"]);
    assert.equal(again.code, 0, said(again));
    assert.equal(containerEnv(c("backend")).JWT_SECRET, first.JWT_SECRET);
    assert.deepEqual(filesHolding(home, first.JWT_SECRET!), []);
  });

  it("destroy leaves no container, volume, network, worktree or catalog row", async () => {
    const r = await run(["destroy", name, "--yes"]);
    assert.equal(r.code, 0, said(r));
    assert.deepEqual(dockerLeftovers(name), { containers: [], volumes: [], networks: [] });
    assert.deepEqual(worktreeDirs(ws.repo), [ws.repo]);
    const catalog = Catalog.open(path.join(home, "catalog.db"));
    try {
      assert.equal(catalog.getEnv(name), undefined);
      assert.equal(catalog.getLease(name), undefined);
    } finally {
      catalog.close();
    }
  });
});
