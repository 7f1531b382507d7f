/**
 * `envctl host ...` through the built CLI against a temp ENVCTL_HOME, with a real OpenSSH
 * server (Debian's sshd, started here on a loopback port) for the SSH path: add, check (online,
 * heartbeat; then offline once sshd stops), detect (this machine's nproc and meminfo, read over
 * SSH), stale, rm with envs placed on the host. Bad input exits 2 naming the field and leaves
 * the hosts table exactly as it was.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Catalog } from "../../lib/catalog/catalog";
import { assertNoTrace, envctl, said, type Run } from "../support/cli";
import { tempDir } from "../support/env";
import { freePort, startSshd, type Sshd } from "../support/sshd";

interface HostJson {
  id: string;
  host: string;
  port: number;
  ssh: { user: string | null; host: string; port: number } | null;
  status: string;
  lastHeartbeat: string | null;
  devices: {
    cpu: { cores: number; ramGb: number } | null;
    gpus: { index: number; name: string; vramGb: number }[];
  } | null;
  createdAt: string;
  updatedAt: string;
}

interface CheckJson {
  id: string;
  status: string;
  via: string;
  reason: string | null;
  detail: string | null;
  lastHeartbeat: string | null;
}

const scratch: string[] = [];
function sandbox(): { home: string; cwd: string } {
  const home = tempDir("home");
  const cwd = tempDir("cwd");
  scratch.push(home, cwd);
  return { home, cwd };
}
function cleanScratch(): void {
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** Parses the one JSON document `--json` prints, checking its kind. */
function doc<T>(r: Run, kind: string): T {
  let parsed: { version?: unknown; kind?: unknown } & T;
  try {
    parsed = JSON.parse(r.stdout) as typeof parsed;
  } catch {
    assert.fail(`stdout is not one JSON document\n${said(r)}`);
  }
  assert.equal(parsed.version, 1, said(r));
  assert.equal(parsed.kind, kind, said(r));
  return parsed;
}

function ok(r: Run): Run {
  assert.equal(r.code, 0, said(r));
  assertNoTrace(r);
  return r;
}

describe("envctl host over real SSH", () => {
  let sshd: Sshd;
  let home: string;
  let cwd: string;
  const run = (args: string[], env?: Record<string, string>): Promise<Run> =>
    envctl(["host", ...args], { home, cwd, env });
  const show = async (id: string): Promise<HostJson> =>
    doc<{ host: HostJson }>(ok(await run(["show", id, "--json"])), "host-show").host;

  before(async () => {
    // Fails (does not skip) without sshd: CI installs it with `bash scripts/setup ssh`.
    sshd = await startSshd();
    ({ home, cwd } = sandbox());
  });
  after(async () => {
    await sshd?.cleanup();
    cleanScratch();
  });

  it("registers localhost on first use", async () => {
    const r = ok(await run(["list", "--json"]));
    const { hosts } = doc<{ hosts: HostJson[] }>(r, "host-list");
    assert.deepEqual(
      hosts.map((h) => [h.id, h.host, h.port, h.ssh, h.status, h.lastHeartbeat, h.devices]),
      [["localhost", "127.0.0.1", 2375, null, "unknown", null, null]],
    );
  });

  it("adds an SSH host", async () => {
    const r = ok(
      await run([
        "add",
        "box",
        "--host",
        "127.0.0.1",
        "--ssh",
        `${sshd.user}@127.0.0.1:${sshd.port}`,
        "--json",
      ]),
    );
    const { host } = doc<{ host: HostJson }>(r, "host-add");
    assert.deepEqual(
      [host.id, host.host, host.port, host.status],
      ["box", "127.0.0.1", 2375, "unknown"],
    );
    assert.deepEqual(host.ssh, { user: sshd.user, host: "127.0.0.1", port: sshd.port });
  });

  it("check goes over SSH: online, with a heartbeat", async () => {
    const started = Date.now();
    const r = ok(await run(["check", "box", "--identity", sshd.identity, "--json"]));
    const body = doc<{ online: number; offline: number; results: CheckJson[] }>(r, "host-check");
    assert.deepEqual([body.online, body.offline], [1, 0], said(r));
    assert.deepEqual(
      body.results.map((c) => [c.id, c.status, c.via, c.reason]),
      [["box", "online", "ssh", null]],
      `${said(r)}\n--- sshd\n${sshd.log()}`,
    );
    const h = await show("box");
    assert.equal(h.status, "online");
    const beat = Date.parse(h.lastHeartbeat ?? "");
    assert.ok(beat >= started - 1000 && beat <= Date.now(), `heartbeat ${h.lastHeartbeat}`);
    // The server's key was remembered in envctl's own known_hosts (hashed or not).
    const hostKey = fs.readFileSync(path.join(sshd.dir, "host_key.pub"), "utf8").split(" ")[1]!;
    assert.ok(fs.readFileSync(path.join(home, "known_hosts"), "utf8").includes(hostKey));
  });

  it("detect reads this machine's cores and RAM over SSH, and no GPUs", async () => {
    const r = ok(await run(["detect", "box"], { ENVCTL_SSH_KEY: sshd.identity }));
    const cores = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
    const kb = Number(/^MemTotal:\s+(\d+)/m.exec(fs.readFileSync("/proc/meminfo", "utf8"))![1]);
    assert.match(r.stdout, new RegExp(`^box: ${cores} cores?, \\d+ GB, no GPU`), said(r));
    const { devices } = await show("box");
    assert.equal(devices?.cpu?.cores, cores);
    assert.ok(Math.abs(devices.cpu.ramGb - kb / 1024 / 1024) <= 1, JSON.stringify(devices));
    assert.deepEqual(devices?.gpus, []);
    assert.ok(sshd.log().includes("Accepted publickey"), "detect logged in through sshd");
  });

  it("detect on localhost runs locally and agrees", async () => {
    const r = ok(await run(["detect", "localhost", "--json"]));
    const local = doc<{ id: string; devices: HostJson["devices"] }>(r, "host-detect");
    assert.equal(local.id, "localhost");
    assert.deepEqual(local.devices, (await show("box")).devices);
  });

  it("check on localhost pings the local Docker engine", async () => {
    const r = ok(await run(["check", "localhost", "--json"]));
    const { results } = doc<{ results: CheckJson[] }>(r, "host-check");
    assert.deepEqual(
      results.map((c) => [c.id, c.status, c.via]),
      [["localhost", "online", "docker"]],
    );
  });

  it("check without SSH: TCP, then GET /_ping; a closed port is offline (exit 1)", async () => {
    const api = http.createServer((req, res) =>
      res.writeHead(req.url === "/_ping" ? 200 : 404).end("OK"),
    );
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
    try {
      const apiPort = (api.address() as net.AddressInfo).port;
      const deadPort = await freePort();
      ok(await run(["add", "engine", "--host", "127.0.0.1", "--port", String(apiPort)]));
      ok(await run(["add", "dead", "--host", "127.0.0.1", "--port", String(deadPort)]));
      const r = await run(["check", "engine", "dead", "--timeout", "2s", "--json"]);
      assert.equal(r.code, 1, said(r));
      assertNoTrace(r);
      const { results } = doc<{ results: CheckJson[] }>(r, "host-check");
      const byId = new Map(results.map((c) => [c.id, c]));
      assert.equal(byId.get("engine")?.status, "online", said(r));
      assert.match(byId.get("engine")?.detail ?? "", /Docker API answers/);
      assert.equal(byId.get("dead")?.status, "offline");
      assert.equal(
        byId.get("dead")?.reason,
        `nothing accepts TCP connections on 127.0.0.1:${deadPort}`,
      );
      assert.equal((await show("dead")).status, "offline");
      assert.equal((await show("dead")).lastHeartbeat, null);

      // The human table names the reason too.
      const human = await run(["check", "dead"]);
      assert.equal(human.code, 1, said(human));
      assert.match(human.stdout, /dead .*offline .*nothing accepts TCP connections/);
    } finally {
      api.close();
    }
  });

  it("list shows address, ssh, status, heartbeat age and devices", async () => {
    const r = ok(await run(["list"]));
    const line = r.stdout.split("\n").find((l) => l.includes(" box "));
    assert.ok(line, said(r));
    assert.match(line, /127\.0\.0\.1:2375/);
    assert.match(line, new RegExp(`${sshd.user}@127\\.0\\.0\\.1:${sshd.port}`));
    assert.match(line, /online/);
    assert.match(line, /\d+s ago/);
    assert.match(line, /\d+ cores?, \d+ GB, no GPU/);
    const online = doc<{ hosts: HostJson[] }>(
      ok(await run(["list", "--status", "online", "--json"])),
      "host-list",
    );
    assert.deepEqual(online.hosts.map((h) => h.id).sort(), ["box", "engine", "localhost"]);
  });

  it("check after sshd stops: offline with ssh's reason, exit 1, heartbeat kept", async () => {
    const beatBefore = (await show("box")).lastHeartbeat;
    await sshd.stop();
    const r = await run(["check", "box", "--identity", sshd.identity, "--json"]);
    assert.equal(r.code, 1, said(r));
    assertNoTrace(r);
    const { results, offline } = doc<{ results: CheckJson[]; offline: number }>(r, "host-check");
    assert.equal(offline, 1);
    assert.equal(results[0]?.status, "offline");
    assert.match(results[0]?.reason ?? "", /Connection refused/, said(r));
    const h = await show("box");
    assert.equal(h.status, "offline");
    assert.equal(h.lastHeartbeat, beatBefore);

    const d = await run(["detect", "box", "--identity", sshd.identity]);
    assert.equal(d.code, 1, said(d));
    assertNoTrace(d);
    assert.match(d.stderr, /cannot detect the devices of box: .*Connection refused/);
  });

  it("stale finds old heartbeats and --mark-offline marks them", async () => {
    const recent = doc<{ hosts: HostJson[] }>(
      ok(await run(["stale", "--max-age", "1h", "--json"])),
      "host-stale",
    );
    assert.ok(!recent.hosts.some((h) => h.id === "engine"), "a fresh heartbeat is not stale");

    await new Promise((r) => setTimeout(r, 5));
    const r = ok(await run(["stale", "--max-age", "1ms", "--mark-offline", "--json"]));
    const body = doc<{ maxAgeMs: number; markedOffline: boolean; hosts: HostJson[] }>(
      r,
      "host-stale",
    );
    assert.equal(body.maxAgeMs, 1);
    assert.equal(body.markedOffline, true);
    assert.deepEqual(body.hosts.map((h) => h.id).sort(), ["box", "dead", "engine", "localhost"]);
    assert.ok(body.hosts.every((h) => h.status === "offline"));
    const online = doc<{ hosts: HostJson[] }>(
      ok(await run(["list", "--status", "online", "--json"])),
      "host-list",
    );
    assert.deepEqual(online.hosts, []);
  });

  it("rm is refused while an env is placed on the host, allowed with --force", async () => {
    const catalog = Catalog.open(path.join(home, "catalog.db"));
    try {
      catalog.upsertEnv({
        name: "placed-env",
        kind: "compose",
        specHash: "x",
        host: "engine",
        worktreePath: null,
        branch: null,
        block: null,
        status: "ready",
        outputs: null,
      });
    } finally {
      catalog.close();
    }
    const refused = await run(["rm", "engine"]);
    assert.equal(refused.code, 1, said(refused));
    assertNoTrace(refused);
    assert.match(refused.stderr, /host engine has envs placed on it: placed-env/);
    assert.match(refused.stderr, /--force/);
    const shown = doc<{ envs: string[] }>(ok(await run(["show", "engine", "--json"])), "host-show");
    assert.deepEqual(shown.envs, ["placed-env"]);

    const forced = ok(await run(["rm", "engine", "--force"]));
    assert.match(forced.stdout, /removed host engine/);
    assert.match(forced.stderr, /placed-env/);
    const gone = await run(["show", "engine"]);
    assert.equal(gone.code, 2, said(gone));
    assert.match(gone.stderr, /host engine does not exist/);
  });

  it("localhost is removed only with --force, and comes back on next use", async () => {
    const refused = await run(["rm", "localhost"]);
    assert.equal(refused.code, 1, said(refused));
    assert.match(refused.stderr, /--force/);
    const rm = ok(await run(["rm", "localhost", "--force", "--json"]));
    assert.equal(doc<{ removed: string }>(rm, "host-rm").removed, "localhost");
    const { hosts } = doc<{ hosts: HostJson[] }>(ok(await run(["list", "--json"])), "host-list");
    const lh = hosts.find((h) => h.id === "localhost");
    assert.equal(lh?.status, "unknown");
    assert.equal(lh?.devices, null);
  });
});

interface BadCase {
  args: string[];
  /** Exit status. @default 2 */
  code?: number;
  expect: RegExp[];
}

const BAD_INPUT: BadCase[] = [
  { args: ["add", "Bad_ID", "--host", "127.0.0.1"], expect: [/id: must be a DNS label/] },
  {
    args: ["add", "new-1", "--host", "127.0.0.1", "--port", "0"],
    expect: [/port: must be 1\.\.65535/],
  },
  {
    args: ["add", "new-1", "--host", "127.0.0.1", "--port", "70000"],
    expect: [/port: must be 1\.\.65535/],
  },
  { args: ["add", "new-1", "--host", "127.0.0.1", "--port", "http"], expect: [/port: "http"/] },
  { args: ["add", "new-1", "--host", "not a host"], expect: [/host: must be a hostname/] },
  { args: ["add", "new-1", "--host", "127.0.0.1", "--ssh", "@@"], expect: [/ssh: .*"@@"/] },
  {
    args: ["add", "new-1", "--host", "127.0.0.1", "--ssh", "root@box:99999"],
    expect: [/ssh: .*99999/],
  },
  {
    args: ["add", "BAD", "--host", "x y", "--port", "0", "--ssh", "@@"],
    expect: [/^envctl: ssh: /, /^ {2}id: /m, /^ {2}host: /m, /^ {2}port: /m],
  },
  { args: ["add", "web-1", "--host", "127.0.0.1"], expect: [/host web-1 already exists/] },
  {
    args: ["list", "--status", "bogus"],
    expect: [/status: .*"bogus"/, /unknown, online, offline/],
  },
  { args: ["show", "ghost"], expect: [/host ghost does not exist/, /envctl host list/] },
  { args: ["show", "Bad_ID"], expect: [/id: must be a DNS label/] },
  { args: ["rm", "ghost"], expect: [/host ghost does not exist/] },
  { args: ["rm", "ghost", "--force"], expect: [/host ghost does not exist/] },
  { args: ["check", "web-1", "ghost"], expect: [/host ghost does not exist/] },
  { args: ["check", "--timeout", "soon"], expect: [/timeout: "soon"/] },
  {
    args: ["check", "web-1", "--identity", "/no/such/key"],
    expect: [/identity: .*does not exist/],
  },
  { args: ["detect", "ghost"], expect: [/host ghost does not exist/] },
  { args: ["stale", "--max-age", "60"], expect: [/max-age: "60" is not a duration/] },
  { args: ["stale", "--max-age", "0s", "--mark-offline"], expect: [/max-age: "0s"/] },
  { args: ["stale"], expect: [/--max-age/] },
  { args: ["add", "new-1"], expect: [/--host/] },
  // Valid input, impossible operation: exit 1, still nothing changed.
  { args: ["detect", "web-2"], code: 1, expect: [/host web-2 has no SSH access/] },
];

describe(
  "envctl host: bad input exits 2 and leaves the hosts table unchanged",
  { concurrency: true },
  () => {
    after(cleanScratch);

    // One home with two hosts, copied per case: a CLI start costs ~0.4 s of CPU.
    let template: string;
    let baseline: string;
    before(async () => {
      const { home, cwd } = sandbox();
      template = home;
      const run = (args: string[]): Promise<Run> => envctl(["host", ...args], { home, cwd });
      ok(await run(["add", "web-1", "--host", "10.0.0.5", "--ssh", "root@10.0.0.5"]));
      ok(await run(["add", "web-2", "--host", "10.0.0.6"]));
      baseline = ok(await run(["list", "--json"])).stdout;
    });

    for (const c of BAD_INPUT) {
      it(`host ${c.args.join(" ")}`, async () => {
        const { home, cwd } = sandbox();
        fs.cpSync(template, home, { recursive: true });
        const run = (args: string[]): Promise<Run> => envctl(["host", ...args], { home, cwd });

        const r = await run(c.args);

        assert.equal(r.code, c.code ?? 2, said(r));
        for (const re of c.expect) assert.match(r.stderr, re, said(r));
        assert.equal(r.stdout, "", `nothing on stdout\n${said(r)}`);
        assertNoTrace(r);
        assert.equal(ok(await run(["list", "--json"])).stdout, baseline, "hosts table changed");
      });
    }

    it("bad input in a fresh home creates no catalog at all", async () => {
      const { home, cwd } = sandbox();
      const r = await envctl(["host", "add", "Bad_ID", "--host", "127.0.0.1"], { home, cwd });
      assert.equal(r.code, 2, said(r));
      assert.ok(!fs.existsSync(path.join(home, "catalog.db")), "catalog.db created");
    });
  },
);
