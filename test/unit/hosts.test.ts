import { afterEach, beforeEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { Catalog } from "../../lib/catalog/catalog";
import { LATEST_SCHEMA, MIGRATIONS, migrate } from "../../lib/catalog/migrations";
import {
  HostError,
  parseDevicesJson,
  parseSshSpec,
  parseStatus,
  validateHostRecord,
  validateNewHost,
  type DeviceCapabilities,
  type HostCatalog,
  type HostIssue,
  type NewHost,
} from "../../lib/hosts/catalog";

let home: string;
let file: string;
const opened: { close(): void }[] = [];

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-hosts-"));
  file = path.join(home, "catalog.db");
});

afterEach(() => {
  for (const c of opened.splice(0)) c.close();
  fs.rmSync(home, { recursive: true, force: true });
});

function cat(f = file): Catalog {
  const c = Catalog.open(f);
  opened.push(c);
  return c;
}

function hosts(): HostCatalog {
  return cat().hosts;
}

function raw(f = file): Database.Database {
  const db = new Database(f);
  opened.push(db);
  return db;
}

/** Every hosts row as stored, to compare before and after a failed call. */
function rows(): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT * FROM hosts ORDER BY id").all();
  } finally {
    db.close();
  }
}

/** `fn` throws a HostError of `kind` (whose issues have exactly `paths`) and changes no row. */
function failsUnchanged(fn: () => unknown, kind: HostError["kind"], paths?: string[]): HostError {
  const before = rows();
  let caught: unknown;
  assert.throws(fn, (err) => ((caught = err), true));
  assert.ok(caught instanceof HostError, `expected a HostError, got ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  if (paths) assert.deepEqual(caught.issues.map((i) => i.path).sort(), [...paths].sort());
  assert.deepEqual(rows(), before, "a failed call must leave the table as it was");
  return caught;
}

const GPU_BOX: NewHost = {
  id: "gpu-box",
  host: "10.0.1.100",
  port: 2375,
  sshHost: "10.0.1.100",
  sshPort: 2222,
  sshUser: "admin",
  devices: {
    cpu: { cores: 16, ramGb: 62.5 },
    gpus: [
      { index: 1, name: "NVIDIA RTX 4090", vramGb: 24 },
      { index: 0, name: "NVIDIA A100", vramGb: 80 },
    ],
  },
};

describe("hosts table (migration 3)", () => {
  it("a fresh file gets the hosts table with its columns, indexes and status check", () => {
    const c = cat();
    assert.equal(c.schemaVersion(), LATEST_SCHEMA);
    assert.equal(LATEST_SCHEMA, 4);
    const db = raw();
    const cols = db.prepare("SELECT name, type, \"notnull\" AS nn FROM pragma_table_info('hosts')");
    assert.deepEqual(
      cols.all().map((r) => Object.values(r as object).join(" ")),
      [
        "id TEXT 0",
        "host TEXT 1",
        "port INTEGER 1",
        "ssh_host TEXT 0",
        "ssh_port INTEGER 0",
        "ssh_user TEXT 0",
        "status TEXT 1",
        "last_heartbeat_ms INTEGER 0",
        "devices_json TEXT 0",
        "created_at_ms INTEGER 1",
        "updated_at_ms INTEGER 1",
      ],
    );
    const indexed = (name: string): string[] =>
      db
        .prepare(`SELECT name FROM pragma_index_info('${name}')`)
        .all()
        .map((r) => (r as { name: string }).name);
    assert.deepEqual(indexed("hosts_status"), ["status"]);
    assert.deepEqual(indexed("hosts_heartbeat"), ["last_heartbeat_ms"]);
    const insert = (status: string): unknown =>
      db
        .prepare(
          "INSERT INTO hosts (id, host, port, status, created_at_ms, updated_at_ms) VALUES (?, 'h', 1, ?, 0, 0)",
        )
        .run(`h-${status}`, status);
    assert.throws(() => insert("bogus"), /CHECK constraint failed/);
    db.prepare(
      "INSERT INTO hosts (id, host, port, created_at_ms, updated_at_ms) VALUES ('d', 'h', 1, 0, 0)",
    ).run();
    assert.equal(c.hosts.get("d")?.status, "unknown", "status defaults to unknown");
  });

  for (const from of [1, 2]) {
    it(`migrates a schema-${from} file to the latest, keeping its data, each step once`, () => {
      const db = new Database(file);
      migrate(db, MIGRATIONS.slice(0, from), () => 1000 + from);
      db.prepare(
        "INSERT INTO envs (name, kind, spec_hash, host, status, created_at_ms, updated_at_ms) VALUES ('old', 'compose', 'h', 'gpu-box', 'ready', 1, 2)",
      ).run();
      db.prepare("INSERT INTO port_leases (block, env, leased_at_ms) VALUES (7, 'old', 3)").run();
      if (from >= 2) db.prepare("UPDATE envs SET state = 'cold', env_json = '{}'").run();
      db.close();

      const c = cat();
      assert.equal(c.schemaVersion(), 4);
      const env = c.getEnv("old")!;
      assert.deepEqual(
        [env.status, env.host, env.createdAtMs, env.updatedAtMs],
        ["ready", "gpu-box", 1, 2],
      );
      assert.equal(env.state, from >= 2 ? "cold" : "warm");
      assert.equal(c.getLease("old")?.block, 7);
      assert.deepEqual(c.envsOnHost("gpu-box"), ["old"]);
      assert.equal(c.hosts.add(GPU_BOX, 5).id, "gpu-box");
      c.close();
      cat().close(); // reopening applies nothing

      const versions = raw()
        .prepare("SELECT version, applied_at_ms FROM schema_version ORDER BY version")
        .all() as { version: number; applied_at_ms: number }[];
      assert.deepEqual(
        versions.map((v) => v.version),
        [1, 2, 3, 4],
      );
      // The steps the file already had keep their rows: they were not applied again.
      for (const v of versions.slice(0, from)) assert.equal(v.applied_at_ms, 1000 + from);
      assert.equal(new Set(versions.slice(from).map((v) => v.applied_at_ms)).size, 1);
    });
  }

  it("refuses a file written by a newer envctl", () => {
    cat().close();
    raw().prepare("INSERT INTO schema_version (version, applied_at_ms) VALUES (5, 0)").run();
    assert.throws(() => Catalog.open(file), /newer envctl \(schema 5\); this envctl knows up to 4/);
    assert.throws(() => Catalog.openReadOnly(file), /newer envctl \(schema 5\)/);
  });

  it("openReadOnly reads hosts, never writes, has nothing for a missing file and reads an older one", () => {
    const c = cat();
    c.hosts.add(GPU_BOX, 5);
    const ro = Catalog.openReadOnly(file)!;
    opened.push(ro);
    assert.deepEqual(ro.hosts.get("gpu-box"), c.hosts.get("gpu-box"));
    assert.throws(() => ro.hosts.updateHeartbeat("gpu-box", 9), /readonly/);
    assert.equal(c.hosts.get("gpu-box")?.lastHeartbeatMs, null);
    assert.equal(Catalog.openReadOnly(path.join(home, "none.db")), undefined);
    assert.ok(!fs.existsSync(path.join(home, "none.db")));
    const old = path.join(home, "v2.db");
    const db = new Database(old);
    migrate(db, MIGRATIONS.slice(0, 2));
    db.close();
    const before = fs.readFileSync(old);
    const roOld = Catalog.openReadOnly(old)!;
    opened.push(roOld);
    assert.deepEqual(roOld.hosts.list(), [], "the copy has the hosts table");
    assert.equal(roOld.schemaVersion(), LATEST_SCHEMA);
    assert.throws(() => roOld.hosts.add(GPU_BOX), /readonly/);
    roOld.close();
    assert.deepEqual(fs.readFileSync(old), before, "the older file is not migrated");
  });
});

describe("host validation", () => {
  const ok = { id: "web-1", host: "example.com", port: 2375 };
  const bad: [string, Record<string, unknown>, string, RegExp][] = [
    ["id with capitals", { id: "Web" }, "id", /DNS label/],
    ["id with a dot", { id: "a.b" }, "id", /DNS label/],
    ["id ending in -", { id: "web-" }, "id", /DNS label/],
    ["id of 64 characters", { id: "a".repeat(64) }, "id", /DNS label/],
    ["empty id", { id: "" }, "id", /DNS label/],
    ["missing id", { id: undefined }, "id", /^required$/],
    ["host with a space", { host: "my host" }, "host", /hostname or an IP address, got "my host"/],
    ["host with _", { host: "a_b.example" }, "host", /hostname/],
    ["host 256.1.1.1", { host: "256.1.1.1" }, "host", /hostname/],
    ["host with a label of 64", { host: `${"a".repeat(64)}.com` }, "host", /hostname/],
    ["port 0", { port: 0 }, "port", /1\.\.65535/],
    ["port 65536", { port: 65536 }, "port", /1\.\.65535/],
    ["port 1.5", { port: 1.5 }, "port", /whole number/],
    ["port as a string", { port: "22" }, "port", /must be a number, got "22"/],
    ["sshPort 0", { sshHost: "h", sshPort: 0 }, "sshPort", /1\.\.65535/],
    ["sshHost bad", { sshHost: "-bad" }, "sshHost", /hostname/],
    ["sshUser bad", { sshHost: "h", sshUser: "9lives" }, "sshUser", /user name/],
    ["sshUser alone", { sshUser: "root" }, "sshUser", /only allowed together with sshHost/],
    ["sshPort alone", { sshPort: 22 }, "sshPort", /only allowed together with sshHost/],
    ["status", { status: "up" }, "status", /one of unknown, online, offline, got "up"/],
    [
      "cores 0",
      { devices: { cpu: { cores: 0, ramGb: 1 }, gpus: [] } },
      "devices.cpu.cores",
      /at least 1/,
    ],
    [
      "ramGb < 0",
      { devices: { cpu: { cores: 1, ramGb: -1 }, gpus: [] } },
      "devices.cpu.ramGb",
      />= 0/,
    ],
    [
      "gpu vram < 0",
      { devices: { cpu: null, gpus: [{ index: 0, name: "g", vramGb: -1 }] } },
      "devices.gpus[0].vramGb",
      />= 0/,
    ],
    [
      "gpu name blank",
      { devices: { cpu: null, gpus: [{ index: 0, name: " ", vramGb: 1 }] } },
      "devices.gpus[0].name",
      /must not be empty/,
    ],
    [
      "gpu index -1",
      { devices: { cpu: null, gpus: [{ index: -1, name: "g", vramGb: 1 }] } },
      "devices.gpus[0].index",
      />= 0/,
    ],
    [
      "gpu index twice",
      {
        devices: {
          cpu: null,
          gpus: [
            { index: 3, name: "a", vramGb: 1 },
            { index: 3, name: "b", vramGb: 1 },
          ],
        },
      },
      "devices.gpus[1].index",
      /duplicate GPU index 3 \(also at devices\.gpus\[0\]\)/,
    ],
    [
      "unknown device field",
      { devices: { cpu: { cores: 1, ramGb: 1, ram_gb: 1 }, gpus: [] } },
      "devices.cpu.ram_gb",
      /unknown field/,
    ],
    [
      "unknown field with a space, quoted as spec paths quote it",
      { devices: { cpu: { cores: 1, ramGb: 1, "ram gb": 1 }, gpus: [] } },
      'devices.cpu["ram gb"]',
      /unknown field/,
    ],
  ];
  for (const [what, over, at, message] of bad) {
    it(`names the field: ${what} -> ${at}`, () => {
      const { value, issues } = validateNewHost({ ...ok, ...over });
      assert.equal(value, undefined);
      assert.deepEqual(
        issues.map((i) => i.path),
        [at],
      );
      assert.match(issues[0]!.message, message);
    });
  }

  it("reports every bad field at once, and a non-object as a whole", () => {
    const { issues } = validateNewHost({ id: "X", host: "", port: -1, sshUser: "root" });
    assert.deepEqual(issues.map((i) => i.path).sort(), ["host", "id", "port", "sshUser"]);
    assert.deepEqual(validateNewHost(null).issues, [
      { path: "", message: "must be an object, got null" },
    ]);
  });

  it("normalizes: lowercased hosts, IPv6 without brackets, nulls and status filled in", () => {
    const { value, issues } = validateNewHost({
      id: "a",
      host: "Box.Example.COM",
      port: 1,
      sshHost: "[FE80::1]",
      devices: { cpu: null, gpus: [{ index: 0, name: " RTX ", vramGb: 8 }] },
    });
    assert.deepEqual(issues, []);
    assert.deepEqual(value, {
      id: "a",
      host: "box.example.com",
      port: 1,
      sshHost: "fe80::1",
      sshPort: null,
      sshUser: null,
      status: "unknown",
      devices: { cpu: null, gpus: [{ index: 0, name: "RTX", vramGb: 8 }] },
    });
    for (const host of ["127.0.0.1", "::1", "localhost", "a-b.c-d.example", "x1"]) {
      assert.deepEqual(validateNewHost({ ...ok, host }).issues, [], host);
    }
  });

  it("a full record needs its timestamps and a whole, non-negative heartbeat", () => {
    const rec = { ...ok, sshHost: null, sshPort: null, sshUser: null, status: "online" };
    const paths = (input: unknown): string[] => validateHostRecord(input).issues.map((i) => i.path);
    assert.deepEqual(paths(rec), ["createdAtMs", "updatedAtMs"]);
    const full = { ...rec, devices: null, createdAtMs: 1, updatedAtMs: 2, lastHeartbeatMs: null };
    assert.deepEqual(paths(full), []);
    assert.deepEqual(paths({ ...full, lastHeartbeatMs: -5 }), ["lastHeartbeatMs"]);
    assert.deepEqual(paths({ ...full, status: undefined }), ["status"]);
  });

  it("parseDevicesJson: round trip, unparsable JSON and wrong shapes name their path", () => {
    const devices: DeviceCapabilities = GPU_BOX.devices!;
    assert.deepEqual(parseDevicesJson(JSON.stringify(devices)), { value: devices, issues: [] });
    assert.deepEqual(parseDevicesJson('{"cpu":null,"gpus":[]}').value, { cpu: null, gpus: [] });
    const notJson = parseDevicesJson("{cpu: 4}");
    assert.equal(notJson.value, undefined);
    assert.deepEqual(
      notJson.issues.map((i) => i.path),
      ["devices"],
    );
    assert.match(notJson.issues[0]!.message, /^is not valid JSON: /);
    const at = (text: string): HostIssue[] => parseDevicesJson(text).issues;
    assert.deepEqual(at("[]"), [{ path: "devices", message: "must be an object, got a list" }]);
    assert.deepEqual(at('{"gpus":[{"index":0,"name":"g"}]}'), [
      { path: "devices.gpus[0].vramGb", message: "required" },
    ]);
    assert.deepEqual(at('{"cpu":{"cores":"8","ramGb":1}}'), [
      { path: "devices.cpu.cores", message: 'must be a number, got "8"' },
    ]);
  });

  it("parseStatus takes the three statuses in any case and names them otherwise", () => {
    assert.equal(parseStatus("online"), "online");
    assert.equal(parseStatus(" Offline "), "offline");
    const err = (() => {
      try {
        parseStatus("up");
      } catch (e) {
        return e as HostError;
      }
    })();
    assert.ok(err instanceof HostError);
    assert.equal(err.kind, "invalid");
    assert.match(err.message, /unknown, online, offline, got "up"/);
    assert.deepEqual(
      err.issues.map((i) => i.path),
      ["status"],
    );
  });

  it("parseSshSpec: user@host[:port] and host[:port], port 22 by default", () => {
    assert.deepEqual(parseSshSpec("admin@10.0.1.100:2222"), {
      user: "admin",
      host: "10.0.1.100",
      port: 2222,
    });
    assert.deepEqual(parseSshSpec("Box.lan"), { user: null, host: "box.lan", port: 22 });
    assert.deepEqual(parseSshSpec("root@[::1]:2200"), { user: "root", host: "::1", port: 2200 });
    const bad: [string, RegExp][] = [
      ["", /host is missing/],
      ["@box", /user is empty/],
      ["9x@box", /"9x" is not a valid user name/],
      ["u@", /host is missing/],
      ["u@bad_host", /"bad_host" is not a hostname/],
      ["box:0", /port "0" is not 1\.\.65535/],
      ["box:99999", /port "99999"/],
      ["box:", /port ""/],
      ["a@b@c", /expected user@host\[:port\]/],
      ["::1", /IPv6 addresses in brackets/],
    ];
    for (const [spec, why] of bad) {
      assert.throws(
        () => parseSshSpec(spec),
        (e: unknown) =>
          e instanceof HostError &&
          e.kind === "invalid" &&
          why.test(e.message) &&
          e.issues.length === 1 &&
          e.issues[0]!.path === "ssh",
        spec,
      );
    }
  });
});

describe("HostCatalog", () => {
  it("add stores a normalized row and get returns it; a missing id is undefined", () => {
    const h = hosts();
    const rec = h.add({ ...GPU_BOX, host: "10.0.1.100" }, 1000);
    assert.deepEqual(rec, {
      ...GPU_BOX,
      status: "unknown",
      lastHeartbeatMs: null,
      createdAtMs: 1000,
      updatedAtMs: 1000,
    });
    assert.deepEqual(h.get("gpu-box"), rec);
    assert.equal(h.get("nope"), undefined);
    const plain = h.add({ id: "plain", host: "Example.com", port: 80, status: "online" }, 5);
    assert.deepEqual(
      [plain.host, plain.sshHost, plain.sshPort, plain.sshUser, plain.devices, plain.status],
      ["example.com", null, null, null, null, "online"],
    );
  });

  it("add refuses an existing id and bad input, changing nothing", () => {
    const h = hosts();
    h.add(GPU_BOX, 1000);
    const dup = failsUnchanged(
      () => h.add({ id: "gpu-box", host: "other", port: 1 }),
      "duplicate",
      ["id"],
    );
    assert.match(dup.message, /cannot add host "gpu-box": it is already in the catalog/);
    const bad = failsUnchanged(
      () => h.add({ id: "new", host: "h", port: 0, sshUser: "x" }),
      "invalid",
      ["port", "sshUser"],
    );
    assert.match(bad.message, /^cannot add host "new": port: must be 1\.\.65535; sshUser: /);
    assert.equal(h.exists("new"), false);
  });

  it("list is ordered by id", () => {
    const h = hosts();
    assert.deepEqual(h.list(), []);
    for (const id of ["zeta", "alpha", "mid"]) h.add({ id, host: "h", port: 1 });
    assert.deepEqual(
      h.list().map((r) => r.id),
      ["alpha", "mid", "zeta"],
    );
  });

  it("update replaces the fields, keeps createdAtMs and never moves the heartbeat back", () => {
    const h = hosts();
    const rec = h.add(GPU_BOX, 1000);
    h.updateHeartbeat("gpu-box", 5000, 1500);
    const changed = h.update(
      {
        ...rec,
        host: "gpu.example.com",
        port: 9000,
        sshHost: null,
        sshPort: null,
        sshUser: null,
        status: "online",
        devices: null,
        lastHeartbeatMs: 4000, // an older read: the stored 5000 stays
        createdAtMs: 1,
        updatedAtMs: 1,
      },
      2000,
    );
    assert.deepEqual(changed, {
      id: "gpu-box",
      host: "gpu.example.com",
      port: 9000,
      sshHost: null,
      sshPort: null,
      sshUser: null,
      status: "online",
      lastHeartbeatMs: 5000,
      devices: null,
      createdAtMs: 1000,
      updatedAtMs: 2000,
    });
    assert.deepEqual(h.get("gpu-box"), changed);
    assert.equal(h.update({ ...changed, lastHeartbeatMs: 6000 }, 3000).lastHeartbeatMs, 6000);
    assert.equal(h.update({ ...changed, lastHeartbeatMs: null }, 3000).lastHeartbeatMs, 6000);
  });

  it("update refuses a missing id and bad input, changing nothing", () => {
    const h = hosts();
    const rec = h.add(GPU_BOX, 1000);
    const missing = failsUnchanged(() => h.update({ ...rec, id: "ghost" }), "not_found");
    assert.equal(missing.message, 'cannot update host "ghost": it is not in the catalog');
    failsUnchanged(() => h.update({ ...rec, port: 70000, sshHost: null }), "invalid", [
      "port",
      "sshPort",
      "sshUser",
    ]);
    failsUnchanged(() => h.update({ ...rec, status: "gone" as never }), "invalid", ["status"]);
  });

  it("updateStatus sets the status only; a missing id or unknown status changes nothing", () => {
    const h = hosts();
    const rec = h.add(GPU_BOX, 1000);
    h.updateStatus("gpu-box", "online", 2000);
    assert.deepEqual(h.get("gpu-box"), { ...rec, status: "online", updatedAtMs: 2000 });
    failsUnchanged(() => h.updateStatus("ghost", "offline"), "not_found");
    failsUnchanged(() => h.updateStatus("gpu-box", "dead" as never), "invalid", ["status"]);
  });

  it("updateHeartbeat keeps the newest timestamp; a missing id or bad timestamp changes nothing", () => {
    const h = hosts();
    const rec = h.add(GPU_BOX, 1000);
    h.updateHeartbeat("gpu-box", 5000, 1100);
    assert.deepEqual(h.get("gpu-box"), { ...rec, lastHeartbeatMs: 5000, updatedAtMs: 1100 });
    h.updateHeartbeat("gpu-box", 4000, 1200);
    assert.equal(h.get("gpu-box")?.lastHeartbeatMs, 5000, "an older heartbeat never wins");
    h.updateHeartbeat("gpu-box", 5001, 1300);
    assert.equal(h.get("gpu-box")?.lastHeartbeatMs, 5001);
    const missing = failsUnchanged(() => h.updateHeartbeat("ghost", 1), "not_found");
    assert.match(missing.message, /"ghost": it is not in the catalog/);
    for (const ts of [-1, 1.5, NaN, Infinity]) {
      failsUnchanged(() => h.updateHeartbeat("gpu-box", ts), "invalid", ["timestampMs"]);
    }
  });

  it("updateDevices round-trips devices (GPU order, null cpu); refusals change nothing", () => {
    const h = hosts();
    h.add({ id: "a", host: "h", port: 1 }, 1000);
    const devices: DeviceCapabilities = {
      cpu: null,
      gpus: [
        { index: 2, name: "third", vramGb: 0 },
        { index: 0, name: "first", vramGb: 11.5 },
      ],
    };
    h.updateDevices("a", devices, 2000);
    assert.deepEqual(h.get("a")?.devices, devices);
    assert.equal(h.get("a")?.updatedAtMs, 2000);
    h.updateDevices("a", { cpu: { cores: 2, ramGb: 0 }, gpus: [] });
    assert.deepEqual(h.get("a")?.devices, { cpu: { cores: 2, ramGb: 0 }, gpus: [] });
    failsUnchanged(() => h.updateDevices("ghost", devices), "not_found");
    failsUnchanged(
      () =>
        h.updateDevices("a", {
          cpu: { cores: 0, ramGb: 1 },
          gpus: [devices.gpus[0]!, devices.gpus[0]!],
        }),
      "invalid",
      ["devices.cpu.cores", "devices.gpus[1].index"],
    );
  });

  it("any devices value survives the store and comes back equal", () => {
    const h = hosts();
    h.add({ id: "a", host: "h", port: 1 });
    const gpu = fc.record({
      index: fc.nat(15),
      name: fc.string({ minLength: 1 }).filter((s) => s.trim() === s && s !== ""),
      vramGb: fc.double({ min: 0, max: 1024, noNaN: true }),
    });
    const devices = fc.record({
      cpu: fc.option(fc.record({ cores: fc.integer({ min: 1, max: 512 }), ramGb: fc.nat(4096) })),
      gpus: fc.uniqueArray(gpu, { selector: (g) => g.index, maxLength: 8 }),
    });
    fc.assert(
      fc.property(devices, (generated) => {
        // fast-check builds null-prototype objects; the store hands back plain ones.
        const d = JSON.parse(JSON.stringify(generated)) as DeviceCapabilities;
        h.updateDevices("a", d);
        assert.deepEqual(h.get("a")?.devices, d);
        assert.deepEqual(parseDevicesJson(JSON.stringify(d)).value, d);
      }),
      { numRuns: 200 },
    );
  });

  it("remove deletes the row; removing a missing id changes nothing", () => {
    const h = hosts();
    h.add(GPU_BOX);
    h.add({ id: "other", host: "h", port: 1 });
    h.remove("gpu-box");
    assert.equal(h.get("gpu-box"), undefined);
    assert.equal(h.exists("gpu-box"), false);
    const err = failsUnchanged(() => h.remove("gpu-box"), "not_found");
    assert.equal(err.message, 'cannot remove host "gpu-box": it is not in the catalog');
    assert.deepEqual(
      h.list().map((r) => r.id),
      ["other"],
    );
  });

  it("queries by status, counts, existence and devices", () => {
    const h = hosts();
    h.add({ id: "d", host: "h", port: 1, status: "online" });
    h.add({ id: "a", host: "h", port: 1, status: "online", devices: { cpu: null, gpus: [] } });
    h.add({ id: "b", host: "h", port: 1, status: "offline" });
    h.add({ id: "c", host: "h", port: 1 });
    const ids = (rs: { id: string }[]): string[] => rs.map((r) => r.id);
    assert.deepEqual(ids(h.findByStatus("online")), ["a", "d"]);
    assert.deepEqual(ids(h.online()), ["a", "d"]);
    assert.deepEqual(ids(h.offline()), ["b"]);
    assert.deepEqual(ids(h.findByStatus("unknown")), ["c"]);
    assert.equal(h.count(), 4);
    assert.deepEqual(
      (["unknown", "online", "offline"] as const).map((s) => h.countByStatus(s)),
      [1, 2, 1],
    );
    assert.equal(h.exists("a"), true);
    assert.equal(h.exists("zz"), false);
    assert.deepEqual(ids(h.withDevices()), ["a"]);
    assert.deepEqual(ids(h.withoutDevices()), ["b", "c", "d"]);
    assert.throws(() => h.findByStatus("up" as never), HostError);
  });

  it("findStale: older than maxAge is stale, exactly maxAge is not, never heartbeated is", () => {
    const h = hosts();
    const now = 1_000_000;
    const beats: [string, number | null][] = [
      ["exact", now - 60_000],
      ["older", now - 60_001],
      ["fresh", now - 59_999],
      ["future", now + 5],
      ["never", null],
    ];
    for (const [id, ts] of beats) {
      h.add({ id, host: "h", port: 1 });
      if (ts !== null) h.updateHeartbeat(id, ts);
    }
    const stale = (maxAge: number): string[] => h.findStale(maxAge, now).map((r) => r.id);
    assert.deepEqual(stale(60_000), ["never", "older"]);
    assert.deepEqual(stale(60_001), ["never"]);
    assert.deepEqual(stale(0), ["exact", "fresh", "never", "older"]);
    assert.throws(() => h.findStale(-1, now), /maxAgeMs: must be a number of ms >= 0/);
  });

  it("ensureLocalhost registers localhost once and returns the stored row after", () => {
    const h = hosts();
    const first = h.ensureLocalhost(1000);
    assert.deepEqual(first, {
      id: "localhost",
      host: "127.0.0.1",
      port: 2375,
      sshHost: null,
      sshPort: null,
      sshUser: null,
      status: "unknown",
      lastHeartbeatMs: null,
      devices: null,
      createdAtMs: 1000,
      updatedAtMs: 1000,
    });
    h.updateStatus("localhost", "online", 2000);
    assert.deepEqual(h.ensureLocalhost(3000), { ...first, status: "online", updatedAtMs: 2000 });
    assert.equal(h.count(), 1);
  });

  it("Catalog.envsOnHost names the envs placed on a host", () => {
    const c = cat();
    const env = (name: string, host: string): void => {
      c.upsertEnv({
        name,
        kind: "devenv",
        specHash: "h",
        host,
        worktreePath: null,
        branch: null,
        block: null,
        status: "ready",
        outputs: null,
      });
    };
    env("web", "gpu-box");
    env("api", "gpu-box");
    env("db", "localhost");
    assert.deepEqual(c.envsOnHost("gpu-box"), ["api", "web"]);
    assert.deepEqual(c.envsOnHost("localhost"), ["db"]);
    assert.deepEqual(c.envsOnHost("nowhere"), []);
  });
});

describe("heartbeats from many processes", () => {
  it("8 processes writing heartbeats to 3 hosts for 3 s: no error, the newest wins", async () => {
    const ids = ["h-a", "h-b", "h-c"];
    const c = cat();
    for (const id of ids) c.hosts.add({ id, host: "h", port: 1 });
    c.close();
    const workers = 8;
    const base = 1_700_000_000_000;
    const worker = path.join(__dirname, "fixtures", "heartbeat-worker.ts");
    const root = path.resolve(__dirname, "..", "..");
    const children = Array.from({ length: workers }, (_, i) => {
      const args = [worker, file, String(i), String(workers), String(base), "3000", ids.join(",")];
      const child = spawn(process.execPath, ["--import", "tsx", ...args], {
        cwd: root,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on("data", () => {
          if (out.startsWith("ready\n")) resolve();
        });
        child.on("exit", (code) => reject(new Error(`worker ${i} exited ${code} early: ${err}`)));
      });
      const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
        child.on("close", (code) => resolve({ code, out, err })),
      );
      return { child, ready, done };
    });
    try {
      await Promise.all(children.map((w) => w.ready));
      for (const w of children) w.child.stdin.end("go\n");
      const results = await Promise.all(children.map((w) => w.done));
      const expected: Record<string, number> = {};
      let overtaken = 0;
      for (const [i, r] of results.entries()) {
        const line = r.out.split("\n")[1] ?? "";
        assert.equal(r.code, 0, `worker ${i} failed: ${line} ${r.err}`);
        const msg = JSON.parse(line) as {
          ok: boolean;
          writes: number;
          max: Record<string, number>;
          overtaken: number;
          backwards: string[];
        };
        assert.equal(msg.ok, true);
        assert.deepEqual(msg.backwards, [], `worker ${i} saw a heartbeat go backwards`);
        assert.ok(msg.writes >= ids.length, `worker ${i} wrote only ${msg.writes} heartbeats`);
        overtaken += msg.overtaken;
        for (const [id, ts] of Object.entries(msg.max)) {
          expected[id] = Math.max(expected[id] ?? 0, ts);
        }
      }
      assert.ok(overtaken > 0, "the workers' writes never interleaved");
      const after = cat();
      assert.deepEqual(
        Object.fromEntries(after.hosts.list().map((h) => [h.id, h.lastHeartbeatMs])),
        expected,
      );
    } finally {
      for (const w of children) if (w.child.exitCode === null) w.child.kill();
    }
  });
});
