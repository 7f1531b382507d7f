import { afterEach, beforeEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { Catalog, openCatalog, type Lease, type UpsertEnv } from "../../lib/catalog/catalog";
import { leaseFor } from "../../lib/catalog/leases";
import { UserError } from "../../lib/core/errors";
import type { EnvSpec } from "../../lib/spec/model";
import { LATEST_SCHEMA, MIGRATIONS, migrate } from "../../lib/catalog/migrations";
import { RESOLVED_ENV_VERSION } from "../../lib/spec/model";

let home: string;
const open: Catalog[] = [];

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-catalog-"));
});

afterEach(() => {
  for (const c of open.splice(0)) c.close();
  fs.rmSync(home, { recursive: true, force: true });
});

function cat(file = path.join(home, "catalog.db")): Catalog {
  const c = Catalog.open(file);
  open.push(c);
  return c;
}

function raw(file = path.join(home, "catalog.db")): Database.Database {
  return new Database(file);
}

function env(name: string, over: Partial<UpsertEnv> = {}): UpsertEnv {
  return {
    name,
    kind: "devenv",
    specHash: "sha256:aaa",
    host: "localhost",
    worktreePath: `/src/${name}`,
    branch: `feature/${name}`,
    block: 3,
    status: "creating",
    outputs: null,
    ...over,
  };
}

describe("catalog schema", () => {
  it("migrates a fresh file (creating its directory) to the latest schema with its tables, in WAL mode", () => {
    const file = path.join(home, "nested", "dir", "catalog.db");
    const c = cat(file);
    assert.equal(c.schemaVersion(), 4);
    assert.equal(LATEST_SCHEMA, 4);
    c.close();

    const db = raw(file);
    try {
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((r) => (r as { name: string }).name);
      assert.deepEqual(tables, ["env_locks", "envs", "hosts", "port_leases", "schema_version"]);
      const cols = db
        .prepare("SELECT name FROM pragma_table_info('envs')")
        .all()
        .map((r) => (r as { name: string }).name);
      const want = "name kind spec_hash host worktree_path branch block status created_at_ms";
      assert.deepEqual(cols, [
        ...want.split(" "),
        "updated_at_ms",
        "outputs_json",
        "state",
        "env_json",
      ]);
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    } finally {
      db.close();
    }
  });

  it("openCatalog uses <home>/catalog.db", () => {
    const c = openCatalog(home);
    open.push(c);
    c.leaseBlock("a", 9);
    assert.ok(fs.existsSync(path.join(home, "catalog.db")));
  });

  it("reopening runs no migration again and keeps data", () => {
    const c = cat();
    c.leaseBlock("a", 9);
    c.upsertEnv(env("a"));
    c.close();
    const again = cat();
    assert.equal(again.schemaVersion(), 4);
    assert.equal(again.getLease("a")?.block, 0);
    assert.equal(again.getEnv("a")?.name, "a");
    again.close();

    const db = raw();
    try {
      assert.deepEqual(db.prepare("SELECT version FROM schema_version").all(), [
        { version: 1 },
        { version: 2 },
        { version: 3 },
        { version: 4 },
      ]);
    } finally {
      db.close();
    }
  });

  it("migrates a schema-1 file to the latest, keeping its envs (desired state defaults to warm)", () => {
    const file = path.join(home, "v1.db");
    const db = raw(file);
    migrate(db, MIGRATIONS.slice(0, 1));
    db.prepare(
      "INSERT INTO envs (name, kind, spec_hash, status, created_at_ms, updated_at_ms) VALUES ('old', 'devenv', 'h', 'ready', 1, 1)",
    ).run();
    db.close();
    const c = cat(file);
    assert.equal(c.schemaVersion(), 4);
    const rec = c.getEnv("old");
    assert.equal(rec?.state, "warm");
    assert.equal(rec?.resolved, null);
    c.close();
  });

  it("refuses a file written by a newer envctl, naming both versions", () => {
    cat().close();
    const db = raw();
    db.prepare("INSERT INTO schema_version (version, applied_at_ms) VALUES (99, 0)").run();
    db.close();
    assert.throws(
      () => Catalog.open(path.join(home, "catalog.db")),
      /^Error: catalog\.db was written by a newer envctl \(schema 99\); this envctl knows up to 4$/,
    );
  });

  it("applies only the pending steps of a longer migration list, each once", () => {
    const db = raw();
    try {
      assert.equal(migrate(db, ["CREATE TABLE a (x)"]), 1);
      assert.equal(migrate(db, ["CREATE TABLE a (x)", "CREATE TABLE b (y)"]), 2);
      assert.equal(migrate(db, ["CREATE TABLE a (x)", "CREATE TABLE b (y)"]), 2);
      assert.deepEqual(db.prepare("SELECT version FROM schema_version ORDER BY version").all(), [
        { version: 1 },
        { version: 2 },
      ]);
      // A failing step rolls back the whole batch, including its version rows.
      assert.throws(() => migrate(db, ["", "", "CREATE TABLE c (z)", "not sql"]));
      const max = db.prepare("SELECT MAX(version) AS v FROM schema_version").get() as { v: number };
      assert.equal(max.v, 2);
      assert.equal(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'c'").get(), undefined);
    } finally {
      db.close();
    }
  });
});

/** Every file in `dir`: name -> size, mtime, mode and content hash. */
function files(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs.readdirSync(dir).map((f) => {
      const st = fs.statSync(path.join(dir, f));
      const hash = crypto.createHash("sha256").update(fs.readFileSync(path.join(dir, f)));
      return [f, `${st.size} ${st.mtimeMs} ${st.mode.toString(8)} ${hash.digest("hex")}`];
    }),
  );
}

describe("read-only catalog", () => {
  it("is undefined when there is no file, and creates none", () => {
    assert.equal(Catalog.openReadOnly(path.join(home, "catalog.db")), undefined);
    assert.deepEqual(fs.readdirSync(home), []);
  });

  it("reads a WAL catalog and leaves its directory exactly as it was", () => {
    const c = cat();
    c.leaseBlock("web", 9);
    c.upsertEnv(env("web"));
    c.close();
    const before = files(home);
    assert.deepEqual(Object.keys(before), ["catalog.db"]);
    const ro = Catalog.openReadOnly(path.join(home, "catalog.db"))!;
    assert.deepEqual(
      ro.listEnvs().map((e) => e.name),
      ["web"],
    );
    assert.equal(ro.getLease("web")?.block, 0);
    assert.throws(() => ro.leaseBlock("other", 9), /readonly/);
    assert.throws(() => ro.setStatus("web", "ready"), /readonly/);
    ro.close();
    assert.deepEqual(files(home), before);
  });

  it("sees what a concurrent writer committed and leaves the writer's WAL alone", () => {
    const writer = cat();
    writer.upsertEnv(env("web"));
    const ro = Catalog.openReadOnly(path.join(home, "catalog.db"))!;
    writer.upsertEnv(env("api"));
    assert.deepEqual(
      ro.listEnvs().map((e) => e.name),
      ["api", "web"],
    );
    ro.close();
    assert.ok(fs.existsSync(path.join(home, "catalog.db-wal")), "the writer's WAL stays");
    writer.upsertEnv(env("db"));
    assert.equal(writer.listEnvs().length, 3);
    writer.close();
    assert.deepEqual(fs.readdirSync(home), ["catalog.db"]);
  });

  it("reads an older catalog through a migrated copy and leaves the file as it was", () => {
    const file = path.join(home, "catalog.db");
    const db = raw(file);
    db.pragma("journal_mode = WAL");
    migrate(db, MIGRATIONS.slice(0, 1));
    db.prepare(
      `INSERT INTO envs (name, kind, spec_hash, status, created_at_ms, updated_at_ms)
       VALUES ('old', 'devenv', 'h', 'ready', 1, 1)`,
    ).run();
    db.close();
    const before = files(home);
    const ro = Catalog.openReadOnly(file)!;
    const [old] = ro.listEnvs();
    assert.deepEqual([old?.name, old?.state, old?.resolved], ["old", "warm", null]);
    assert.equal(ro.file, file);
    assert.throws(() => ro.removeEnv("old"), /readonly/);
    ro.close();
    assert.deepEqual(files(home), before);
  });

  it("refuses a catalog written by a newer envctl", () => {
    cat().close();
    const db = raw();
    db.prepare("INSERT INTO schema_version (version, applied_at_ms) VALUES (99, 0)").run();
    db.close();
    assert.throws(() => Catalog.openReadOnly(path.join(home, "catalog.db")), /newer envctl/);
  });
});

describe("port leases", () => {
  it("leases the lowest free block, skipping rejected ones, and is idempotent per env", () => {
    const c = cat();
    assert.equal(c.leaseBlock("a", 9).block, 0);
    const asked: number[] = [];
    const b = c.leaseBlock("b", 9, (blk) => (asked.push(blk), blk !== 1 && blk !== 2));
    assert.equal(b.block, 3);
    assert.deepEqual(asked, [1, 2, 3], "accept is asked about free blocks only, lowest first");
    assert.equal(c.leaseBlock("c", 9).block, 1);
    // Same env: same lease, even if accept would now reject its block.
    assert.deepEqual(
      c.leaseBlock("b", 9, () => false),
      b,
    );
    assert.deepEqual(c.getLease("b"), b);
    assert.equal(b.host, "localhost");
    assert.deepEqual(
      c.leases().map((l) => [l.block, l.env]),
      [
        [0, "a"],
        [1, "c"],
        [3, "b"],
      ],
    );
  });

  it("release frees the block for the next env", () => {
    const c = cat();
    c.leaseBlock("a", 9);
    c.leaseBlock("b", 9);
    assert.equal(c.releaseLease("a"), true);
    assert.equal(c.releaseLease("a"), false);
    assert.equal(c.getLease("a"), undefined);
    assert.equal(c.leaseBlock("c", 9).block, 0);
  });

  it("throws a clear error when every block is leased or rejected, leaving nothing behind", () => {
    const c = cat();
    c.leaseBlock("a", 2);
    c.leaseBlock("b", 2);
    assert.throws(
      () => c.leaseBlock("c", 2, (blk) => blk !== 2),
      /no free port block for env "c".*0\.\.2/,
    );
    assert.equal(c.getLease("c"), undefined);
    assert.equal(c.leaseBlock("c", 2).block, 2);
    assert.throws(() => c.leaseBlock("d", 2), /no free port block/);
    assert.throws(() => c.leaseBlock("d", -1), /maxBlock/);
  });

  it("six processes leasing at once on a fresh file get six distinct blocks", async () => {
    const file = path.join(home, "race", "catalog.db");
    const worker = path.join(__dirname, "fixtures", "lease-worker.ts");
    const root = path.resolve(__dirname, "..", "..");
    const children = Array.from({ length: 6 }, (_, i) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", worker, file, `env-${i}`, "99", "40"],
        { cwd: root, stdio: ["pipe", "pipe", "pipe"] },
      );
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const ready = new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (out.startsWith("ready\n")) resolve();
        };
        child.stdout.on("data", check);
        child.on("exit", (code) => reject(new Error(`worker ${i} exited ${code} early: ${err}`)));
      });
      const done = new Promise<{
        code: number | null;
        out: string;
        err: string;
      }>((resolve) => child.on("close", (code) => resolve({ code, out, err })));
      return { child, ready, done };
    });
    try {
      await Promise.all(children.map((c) => c.ready));
      for (const c of children) c.child.stdin.end("go\n");
      const results = await Promise.all(children.map((c) => c.done));
      const blocks = results.map((r, i) => {
        const line = r.out.split("\n")[1] ?? "";
        assert.equal(r.code, 0, `worker ${i} failed: ${line} ${r.err}`);
        const msg = JSON.parse(line) as { ok: boolean; block: number };
        assert.equal(msg.ok, true);
        return msg.block;
      });
      assert.deepEqual(
        [...blocks].sort((a, b) => a - b),
        [0, 1, 2, 3, 4, 5],
      );
      const c = cat(file);
      assert.equal(c.schemaVersion(), LATEST_SCHEMA);
      assert.deepEqual(
        c
          .leases()
          .map((l) => [l.block, l.env])
          .sort((a, b) => Number(a[0]) - Number(b[0])),
        blocks.map((b, i) => [b, `env-${i}`]).sort((a, b) => Number(a[0]) - Number(b[0])),
      );
    } finally {
      for (const c of children) if (c.child.exitCode === null) c.child.kill();
    }
  });

  it("any interleaving of lease/release matches a Map model", () => {
    const c = cat();
    const op = fc.record({
      kind: fc.constantFrom("lease", "release"),
      env: fc.nat(5),
    });
    fc.assert(
      fc.property(
        fc.nat(5),
        fc.uniqueArray(fc.nat(6), { maxLength: 3 }),
        fc.array(op, { maxLength: 30 }),
        (maxBlock, busyList, ops) => {
          for (const l of c.leases()) c.releaseLease(l.env);
          const busy = new Set(busyList);
          const accept = (b: number): boolean => !busy.has(b);
          const model = new Map<string, number>();
          for (const { kind, env: n } of ops) {
            const name = `e${n}`;
            if (kind === "release") {
              assert.equal(c.releaseLease(name), model.delete(name));
            } else if (model.has(name)) {
              assert.equal(c.leaseBlock(name, maxBlock, accept).block, model.get(name));
            } else {
              const used = new Set(model.values());
              let want: number | undefined;
              for (let b = 0; b <= maxBlock && want === undefined; b++) {
                if (!used.has(b) && accept(b)) want = b;
              }
              if (want === undefined) {
                assert.throws(() => c.leaseBlock(name, maxBlock, accept), /no free port block/);
              } else {
                assert.equal(c.leaseBlock(name, maxBlock, accept).block, want);
                model.set(name, want);
              }
            }
            const leases: Lease[] = c.leases();
            assert.equal(new Set(leases.map((l) => l.block)).size, leases.length);
            assert.deepEqual(
              leases.map((l) => [l.env, l.block]),
              [...model].sort((a, b) => a[1] - b[1]),
            );
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("leaseFor and the catalog's own errors", () => {
  // No ports: every block's host ports are free, so the scan always picks the lowest unleased one.
  const spec = { services: [] } as unknown as EnvSpec;

  /** Runs `before` ahead of the first leaseBlock call and counts the calls. */
  function onFirstLease(c: Catalog, before: () => void, after = (): void => {}): () => number {
    const leaseBlock = c.leaseBlock.bind(c);
    let calls = 0;
    c.leaseBlock = (...args) => {
      if (calls++ === 0) before();
      try {
        return leaseBlock(...args);
      } finally {
        if (calls === 1) after();
      }
    };
    return () => calls;
  }

  it("only a block leased meanwhile is skipped: SQLITE_BUSY is a busy catalog, no block leased", async () => {
    // Another envctl leases the scanned block between the scan and the insert: the next one.
    const mine = cat(path.join(home, "taken", "catalog.db"));
    const other = cat(path.join(home, "taken", "catalog.db"));
    const tries = onFirstLease(mine, () => other.leaseBlock("other", 9));
    assert.equal(await leaseFor(mine, "mine", spec), 1);
    assert.equal(tries(), 2);

    const file = path.join(home, "catalog.db");
    const c = Catalog.open(file, { busyTimeoutMs: 20 });
    open.push(c);
    const holder = raw(file);
    holder.exec("BEGIN IMMEDIATE"); // another process writing
    // The lock goes away right after the failed attempt: a retry on the next block would succeed.
    const calls = onFirstLease(
      c,
      () => {},
      () => holder.exec("ROLLBACK"),
    );
    try {
      await assert.rejects(leaseFor(c, "mine", spec), (err: unknown) => {
        assert.ok(err instanceof UserError, String(err));
        assert.equal(err.exitCode, 1);
        assert.match(err.message, /catalog .*catalog\.db is busy \(SQLITE_BUSY\)/);
        assert.match(err.details.join("\n"), /run the command again/);
        return true;
      });
    } finally {
      if (holder.inTransaction) holder.exec("ROLLBACK");
      holder.close();
    }
    assert.equal(calls(), 1, "no second block was tried");
    assert.deepEqual(c.leases(), []);
  });

  it("any other SQLite error is rethrown as itself, not skipped", async () => {
    cat().close(); // create and migrate the file
    const ro = Catalog.openReadOnly(path.join(home, "catalog.db"))!;
    open.push(ro);
    const calls = onFirstLease(ro, () => {});
    await assert.rejects(
      leaseFor(ro, "mine", spec),
      (err: unknown) =>
        err instanceof Database.SqliteError && err.code === "SQLITE_READONLY" && calls() === 1,
    );
  });
});

describe("env index", () => {
  it("upsert keeps createdAtMs, bumps updatedAtMs and replaces the other fields", () => {
    const c = cat();
    const first = c.upsertEnv(env("web", { nowMs: 1000 }));
    assert.equal(first.createdAtMs, 1000);
    assert.equal(first.updatedAtMs, 1000);
    const second = c.upsertEnv(
      env("web", {
        nowMs: 5000,
        status: "ready",
        specHash: "sha256:bbb",
        branch: null,
      }),
    );
    assert.equal(second.createdAtMs, 1000);
    assert.equal(second.updatedAtMs, 5000);
    assert.equal(second.status, "ready");
    assert.equal(second.specHash, "sha256:bbb");
    assert.equal(second.branch, null);
    assert.deepEqual(c.getEnv("web"), second);
  });

  it("lists envs ordered by name and round-trips outputs JSON", () => {
    const c = cat();
    const outputs = {
      url: "http://localhost:10080",
      ports: { web: 10080 },
      tags: ["a", 1, null],
      ok: true,
    };
    c.upsertEnv(env("zeta"));
    c.upsertEnv(env("alpha", { outputs, worktreePath: null, block: null }));
    c.upsertEnv(env("mid"));
    assert.deepEqual(
      c.listEnvs().map((e) => e.name),
      ["alpha", "mid", "zeta"],
    );
    const alpha = c.getEnv("alpha")!;
    assert.deepEqual(alpha.outputs, outputs);
    assert.equal(alpha.worktreePath, null);
    assert.equal(alpha.block, null);
    assert.equal(c.getEnv("zeta")?.outputs, null);

    c.setOutputs("zeta", { n: 2, nested: { deep: ["x"] } });
    assert.deepEqual(c.getEnv("zeta")?.outputs, {
      n: 2,
      nested: { deep: ["x"] },
    });
    assert.throws(() => c.setOutputs("nope", {}), /"nope".*not in the catalog/);
  });

  it("reads a stored resolved env through its kind's upgrade: v1 rows come back current, a newer row is unreadable on its own", () => {
    const c = cat();
    c.upsertEnv(env("old"));
    c.upsertEnv(env("future"));
    const v1 = { name: "old", kind: "devenv", state: "cold", services: [] };
    const db = raw();
    const put = db.prepare("UPDATE envs SET state = ?, env_json = ? WHERE name = ?");
    put.run("cold", JSON.stringify(v1), "old");
    put.run("warm", JSON.stringify({ ...v1, name: "future", schemaVersion: 99 }), "future");
    db.close();

    assert.deepEqual(c.getEnv("old")?.resolved, { ...v1, schemaVersion: RESOLVED_ENV_VERSION });
    const newer = (err: unknown): boolean =>
      err instanceof UserError &&
      /^envs\.future\.env_json has schema version 99, newer than this envctl's 2/.test(err.message);
    const future = c.getEnv("future");
    assert.equal(future?.resolved, null);
    assert.ok(newer(new UserError(future?.unreadable ?? "")), future?.unreadable);
    // The other rows still list.
    assert.deepEqual(
      c.listEnvs().map((e) => [e.name, e.resolved === null, e.unreadable !== undefined]),
      [
        ["future", true, true],
        ["old", false, false],
      ],
    );
  });

  it("setStatus updates a present env and throws for a missing one", () => {
    const c = cat();
    c.upsertEnv(env("web", { nowMs: 1000 }));
    c.setStatus("web", "destroying", 2000);
    const rec = c.getEnv("web")!;
    assert.equal(rec.status, "destroying");
    assert.equal(rec.updatedAtMs, 2000);
    assert.equal(rec.createdAtMs, 1000);
    assert.throws(() => c.setStatus("ghost", "ready"), /"ghost".*not in the catalog/);
    assert.equal(c.getEnv("ghost"), undefined);
    assert.throws(() => c.setStatus("web", "bogus" as never), /unknown env status "bogus"/);
  });

  it("removeEnv drops the row and the lease together, leaving other envs alone", () => {
    const c = cat();
    c.upsertEnv(env("a"));
    c.upsertEnv(env("b"));
    c.leaseBlock("a", 9);
    c.leaseBlock("b", 9);
    assert.equal(c.removeEnv("a"), true);
    assert.equal(c.getEnv("a"), undefined);
    assert.equal(c.getLease("a"), undefined);
    assert.deepEqual(
      c.leases().map((l) => l.env),
      ["b"],
    );
    assert.deepEqual(
      c.listEnvs().map((e) => e.name),
      ["b"],
    );
    assert.equal(c.removeEnv("a"), false);
    // A lease without a row (env never got past leasing) is still removed.
    c.leaseBlock("orphan", 9);
    assert.equal(c.removeEnv("orphan"), true);
    assert.equal(c.getLease("orphan"), undefined);
  });

  it("removeEnv is atomic: a failure deleting the lease keeps the row", () => {
    const c = cat();
    c.upsertEnv(env("a"));
    c.leaseBlock("a", 9);
    const db = raw();
    db.exec(`CREATE TRIGGER no_release BEFORE DELETE ON port_leases
             BEGIN SELECT RAISE(ABORT, 'release blocked'); END`);
    db.close();
    assert.throws(() => c.removeEnv("a"), /release blocked/);
    assert.equal(c.getEnv("a")?.name, "a", "env row must survive the rolled-back removal");
    assert.equal(c.getLease("a")?.block, 0);
  });
});
