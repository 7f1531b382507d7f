/**
 * The pure half of `envctl host check/detect`: parsing nproc, /proc/meminfo, getconf and
 * nvidia-smi output, the sectioned detection script, durations and ages, the ssh argument
 * vector, and the probes against local servers (no SSH server needed here: see e2e/host).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { hostJson, newHostFromFlags } from "../../cli/commands/host";
import { UserError } from "../../lib/core/errors";
import {
  DETECT_SCRIPT,
  DetectError,
  detectDevices,
  formatAge,
  localRunner,
  parseDetectOutput,
  parseDuration,
  parseMeminfo,
  parseNproc,
  parseNvidiaSmi,
  parsePhysPages,
  probeHost,
  sections,
  summarizeDevices,
  type ProbeDeps,
  type ScriptRunner,
} from "../../lib/hosts/check";
import type { HostRecord } from "../../lib/hosts/catalog";
import { sshArgs, sshFailure } from "../../lib/hosts/ssh";

const MEMINFO_32G = `MemTotal:       32779424 kB
MemFree:         1234567 kB
MemAvailable:   20000000 kB
Buffers:          123456 kB
`;

const NVIDIA_TWO = `0, NVIDIA GeForce RTX 4090, 24564 MiB
1, NVIDIA A100-SXM4-80GB, 81920 MiB
`;

describe("parseNproc", () => {
  it("reads a positive integer", () => {
    assert.equal(parseNproc("8\n"), 8);
    assert.equal(parseNproc("  16  \n"), 16);
    assert.equal(parseNproc("1"), 1);
  });
  for (const bad of ["", "0", "-2", "abc", "4.5", "nproc: command not found"]) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseNproc(bad), DetectError);
    });
  }
});

describe("parseMeminfo / parsePhysPages", () => {
  it("rounds MemTotal (kB) to whole GB", () => {
    assert.equal(parseMeminfo(MEMINFO_32G), 31); // 31.26 GiB
    assert.equal(parseMeminfo("MemTotal:       16303480 kB\n"), 16); // 15.55 GiB
    assert.equal(parseMeminfo("MemFree: 1 kB\nMemTotal: 1048576 kB\n"), 1);
  });
  it("matches this machine's /proc/meminfo", () => {
    const text = fs.readFileSync("/proc/meminfo", "utf8");
    const kb = Number(/^MemTotal:\s+(\d+)/m.exec(text)![1]);
    assert.ok(Math.abs(parseMeminfo(text) - kb / 1024 / 1024) <= 0.5);
  });
  it("throws without a MemTotal line", () => {
    assert.throws(() => parseMeminfo("MemFree: 12 kB\n"), /no MemTotal/);
    assert.throws(() => parseMeminfo(""), DetectError);
  });
  it("reads getconf pages and page size", () => {
    assert.equal(parsePhysPages("8192000 4096\n"), 31);
    assert.throws(() => parsePhysPages(" \n"), DetectError);
    assert.throws(() => parsePhysPages("undefined 4096"), DetectError);
  });
});

describe("parseNvidiaSmi", () => {
  it("reads index, name and memory (MiB -> GB)", () => {
    assert.deepEqual(parseNvidiaSmi(NVIDIA_TWO), [
      { index: 0, name: "NVIDIA GeForce RTX 4090", vramGb: 24 },
      { index: 1, name: "NVIDIA A100-SXM4-80GB", vramGb: 80 },
    ]);
  });
  it("keeps the issue's example: 24564 MiB is 24 GB", () => {
    assert.deepEqual(parseNvidiaSmi("0, NVIDIA RTX 4090, 24564 MiB"), [
      { index: 0, name: "NVIDIA RTX 4090", vramGb: 24 },
    ]);
  });
  it("keeps commas inside the name, and unreadable memory as 0", () => {
    assert.deepEqual(parseNvidiaSmi("3, Tesla, Custom Edition, 16384 MiB\r\n4, GRID T4, [N/A]\n"), [
      { index: 3, name: "Tesla, Custom Edition", vramGb: 16 },
      { index: 4, name: "GRID T4", vramGb: 0 },
    ]);
  });
  it("is empty for no output", () => {
    assert.deepEqual(parseNvidiaSmi(""), []);
    assert.deepEqual(parseNvidiaSmi("\n\n"), []);
  });
  for (const [bad, re] of [
    ["0, NVIDIA RTX 4090", /line 1: expected "index, name, memory.total"/],
    ["x, NVIDIA RTX 4090, 24564 MiB", /index "x" is not a number/],
    ["0, NVIDIA RTX 4090, lots", /memory "lots"/],
    ["0, , 100 MiB", /empty GPU name/],
    ["0, A, 1 MiB\nNo devices were found", /line 2/],
  ] as const) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseNvidiaSmi(bad), re);
    });
  }
});

describe("parseDetectOutput", () => {
  const out = (...parts: string[]): string => parts.join("\n") + "\n";

  it("ignores anything before the first marker (login banners, profile noise)", () => {
    const text = out(
      "Welcome to box!",
      "@@nproc",
      "4",
      "@@meminfo",
      MEMINFO_32G,
      "@@pages",
      "1 4096",
      "@@end",
    );
    assert.deepEqual(parseDetectOutput(text), {
      devices: { cpu: { cores: 4, ramGb: 31 }, gpus: [] },
      warnings: [],
    });
  });
  it("reads GPUs from the gpus section", () => {
    const text = out("@@nproc", "64", "@@meminfo", MEMINFO_32G, "@@gpus", NVIDIA_TWO, "@@end");
    const { devices } = parseDetectOutput(text);
    assert.equal(devices.gpus.length, 2);
    assert.equal(summarizeDevices(devices), "64 cores, 31 GB, 2 GPUs");
  });
  it("falls back to getconf pages when /proc/meminfo is missing", () => {
    const text = out("@@nproc", "2", "@@meminfo", "@@pages", "2097152 4096", "@@end");
    assert.deepEqual(parseDetectOutput(text).devices.cpu, { cores: 2, ramGb: 8 });
  });
  it("reports a failing nvidia-smi as a warning, with no GPUs", () => {
    const text = out(
      "@@nproc",
      "2",
      "@@meminfo",
      MEMINFO_32G,
      "@@gpu-error",
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
      "@@end",
    );
    const r = parseDetectOutput(text);
    assert.deepEqual(r.devices.gpus, []);
    assert.match(r.warnings[0]!, /nvidia-smi is installed but failed: NVIDIA-SMI has failed/);
  });
  it("refuses output that stopped early", () => {
    assert.throws(() => parseDetectOutput(out("@@nproc", "2")), /did not run to its end/);
  });
  it("splits sections", () => {
    assert.deepEqual(
      [...sections("noise\n@@a\n1\n2\n@@b\n@@c\n3")],
      [
        ["a", "1\n2"],
        ["b", ""],
        ["c", "3"],
      ],
    );
  });
});

describe("detectDevices", () => {
  it("runs the real script here: nproc and /proc/meminfo of this machine, no GPUs", async () => {
    const { devices } = await detectDevices(localRunner(10_000));
    const cores = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
    const kb = Number(/^MemTotal:\s+(\d+)/m.exec(fs.readFileSync("/proc/meminfo", "utf8"))![1]);
    assert.equal(devices.cpu?.cores, cores);
    assert.ok(Math.abs(devices.cpu.ramGb - kb / 1024 / 1024) <= 1);
    assert.deepEqual(devices.gpus, []); // no nvidia-smi on the test machines
  });
  it("passes the script to the runner and turns a runner failure into a DetectError", async () => {
    let seen = "";
    const failing: ScriptRunner = async (script) => {
      seen = script;
      return { code: 255, stdout: "", stderr: "boom", failure: "ssh box: Connection refused" };
    };
    await assert.rejects(detectDevices(failing), (err: unknown) => {
      assert.ok(err instanceof DetectError);
      assert.match(err.message, /Connection refused/);
      return true;
    });
    assert.equal(seen, DETECT_SCRIPT);
  });
  it("names stderr when the output does not parse", async () => {
    const garbage: ScriptRunner = async () => ({
      code: 1,
      stdout: "@@nproc\nzero\n@@end\n",
      stderr: "sh: 1: nproc: not found\n",
    });
    await assert.rejects(
      detectDevices(garbage),
      /nproc: expected .*stderr: sh: 1: nproc: not found/,
    );
  });
});

describe("durations and ages", () => {
  for (const [text, ms] of [
    ["500ms", 500],
    ["1ms", 1],
    ["60s", 60_000],
    ["1.5s", 1500],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    [" 60s ", 60_000],
  ] as const) {
    it(`parses ${JSON.stringify(text)}`, () => assert.equal(parseDuration(text), ms));
  }
  for (const bad of ["", "60", "0s", "0ms", "-5s", "5 m", "5min", "1e3ms", "s", "0.1ms"]) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseDuration(bad), undefined));
  }
  it("formats heartbeat ages", () => {
    const now = 1_000_000_000;
    assert.equal(formatAge(null, now), "never");
    assert.equal(formatAge(now - 12_400, now), "12s ago");
    assert.equal(formatAge(now + 3_000, now), "0s ago"); // clock skew: never negative
    assert.equal(formatAge(now - 5 * 60_000, now), "5m ago");
    assert.equal(formatAge(now - 3 * 3_600_000, now), "3h ago");
    assert.equal(formatAge(now - 3 * 86_400_000, now), "3d ago");
  });
  it("summarizes devices", () => {
    assert.equal(summarizeDevices(null), "not detected");
    assert.equal(
      summarizeDevices({
        cpu: { cores: 8, ramGb: 31 },
        gpus: [{ index: 0, name: "X", vramGb: 24 }],
      }),
      "8 cores, 31 GB, 1 GPU",
    );
    assert.equal(
      summarizeDevices({ cpu: { cores: 1, ramGb: 2 }, gpus: [] }),
      "1 core, 2 GB, no GPU",
    );
    assert.equal(summarizeDevices({ cpu: null, gpus: [] }), "no GPU");
  });
});

describe("host add flags", () => {
  const flags = { id: "box", host: "10.0.0.5" };

  it("defaults the port to 2375 and SSH to port 22", () => {
    const h = newHostFromFlags({ ...flags, ssh: "admin@10.0.0.5" });
    assert.equal(h.port, 2375);
    assert.deepEqual([h.sshUser, h.sshHost, h.sshPort], ["admin", "10.0.0.5", 22]);
  });
  it("reads user@host:port, host only, and bracketed IPv6", () => {
    const a = newHostFromFlags({ ...flags, port: "2376", ssh: "root@127.0.0.1:2222" });
    assert.deepEqual([a.port, a.sshUser, a.sshHost, a.sshPort], [2376, "root", "127.0.0.1", 2222]);
    const b = newHostFromFlags({ ...flags, ssh: "gpu-box.lan" });
    assert.deepEqual([b.sshUser, b.sshHost, b.sshPort], [null, "gpu-box.lan", 22]);
    const c = newHostFromFlags({ ...flags, ssh: "root@[::1]:2200" });
    assert.deepEqual([c.sshHost, c.sshPort], ["::1", 2200]);
  });

  const bad: [string, Partial<{ id: string; host: string; port: string; ssh: string }>, RegExp][] =
    [
      ["an uppercase id", { id: "Bad_ID" }, /^id: must be a DNS label/],
      ["port 0", { port: "0" }, /^port: must be 1\.\.65535/],
      ["port 70000", { port: "70000" }, /^port: must be 1\.\.65535/],
      ["a port that is not a number", { port: "http" }, /^port: "http" is not a number/],
      ["a host with a space", { host: "bad host" }, /^host: must be a hostname or an IP/],
      ["ssh @@", { ssh: "@@" }, /^ssh: /],
      ["ssh with an empty user", { ssh: "@box" }, /^ssh: .*the user is empty/],
      ["ssh without a host", { ssh: "root@" }, /^ssh: .*the host is missing/],
      ["ssh port 0", { ssh: "root@box:0" }, /^ssh: .*port "0" is not 1\.\.65535/],
      ["ssh port 70000", { ssh: "root@box:70000" }, /^ssh: .*port "70000"/],
      ["ssh with an empty port", { ssh: "root@box:" }, /^ssh: .*port ""/],
      ["ssh with two @", { ssh: "a@b@c" }, /^ssh: /],
      ["an unbracketed IPv6 ssh host", { ssh: "root@::1" }, /^ssh: /],
    ];
  for (const [title, change, re] of bad) {
    it(`rejects ${title} with exit 2 naming the field`, () => {
      assert.throws(
        () => newHostFromFlags({ ...flags, ...change }),
        (err: unknown) => {
          assert.ok(err instanceof UserError, String(err));
          assert.equal(err.exitCode, 2);
          assert.match([err.message, ...err.details].join("\n"), re);
          return true;
        },
      );
    });
  }
  it("reports every problem at once", () => {
    assert.throws(
      () => newHostFromFlags({ id: "Bad", host: "h", port: "x", ssh: "@@" }),
      (err: UserError) => {
        assert.equal(err.exitCode, 2);
        // The first on the message line (which alone names a field), the others below it.
        assert.deepEqual(
          [err.message, ...err.details].map((d) => d.split(":")[0]),
          ["port", "ssh", "id"],
        );
        return true;
      },
    );
  });
});

describe("ssh arguments and failures", () => {
  const target = { host: "box.lan", port: 2222, user: "root" };
  const opts = { knownHostsFile: "/h/known_hosts", identity: "/k/id", timeoutMs: 5000 };

  it("never prompts, remembers keys in envctl's file, and ends options before the host", () => {
    const args = sshArgs(target, opts, "true");
    const joined = args.join(" ");
    for (const o of [
      "-o BatchMode=yes",
      "-o StrictHostKeyChecking=accept-new",
      "-o UserKnownHostsFile=/h/known_hosts",
      "-o ConnectTimeout=5",
      "-p 2222",
      "-i /k/id",
      "-l root",
      "-n",
    ]) {
      assert.ok(joined.includes(o), `${o} in ${joined}`);
    }
    assert.deepEqual(args.slice(-3), ["--", "box.lan", "true"]);
  });
  it("leaves the user and key to ssh when not given, and keeps stdin for input", () => {
    const args = sshArgs({ ...target, user: null }, { knownHostsFile: "/kh", input: "x" }, "sh -s");
    assert.ok(!args.includes("-l") && !args.includes("-i") && !args.includes("-n"));
    assert.ok(args.includes("ConnectTimeout=5"));
    assert.ok(sshArgs(target, { ...opts, timeoutMs: 1500 }, "true").includes("ConnectTimeout=2"));
  });
  it("words failures with ssh's last line", () => {
    const r = { code: 255, stdout: "", timedOut: false };
    assert.equal(
      sshFailure(
        target,
        { ...r, stderr: "ssh: connect to host box.lan port 2222: Connection refused\r\n" },
        1,
      ),
      "ssh: connect to host box.lan port 2222: Connection refused",
    );
    assert.equal(
      sshFailure(target, { ...r, stderr: "root@box.lan: Permission denied (publickey).\n" }, 1),
      "ssh root@box.lan:2222: root@box.lan: Permission denied (publickey).",
    );
    assert.equal(
      sshFailure(target, { ...r, stderr: "", timedOut: true }, 5000),
      "ssh root@box.lan:2222: no answer within 5000ms",
    );
    assert.equal(
      sshFailure(target, { ...r, code: 3, stderr: "" }, 1),
      "ssh root@box.lan:2222: exit status 3",
    );
  });
});

function host(over: Partial<HostRecord>): HostRecord {
  return {
    id: "box",
    host: "127.0.0.1",
    port: 2375,
    sshHost: null,
    sshPort: null,
    sshUser: null,
    status: "unknown",
    lastHeartbeatMs: null,
    devices: null,
    createdAtMs: 0,
    updatedAtMs: 0,
    ...over,
  };
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe("probeHost", () => {
  const servers: net.Server[] = [];
  let dockerApi = 0;
  let notHttp = 0;
  const deps = (over: Partial<ProbeDeps> = {}): ProbeDeps => ({
    timeoutMs: 2000,
    ssh: { knownHostsFile: "/dev/null" },
    dockerPing: async () => assert.fail("dockerPing is for localhost only"),
    ...over,
  });

  before(async () => {
    const api = http.createServer((req, res) => {
      res.writeHead(req.url === "/_ping" ? 200 : 404).end("OK");
    });
    // Talks first and never HTTP: an SSH-like banner.
    const banner = net.createServer((sock) => sock.write("SSH-2.0-fake\r\n"));
    for (const srv of [api, banner]) {
      await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
      servers.push(srv);
    }
    dockerApi = (api.address() as net.AddressInfo).port;
    notHttp = (banner.address() as net.AddressInfo).port;
  });
  after(() => {
    for (const srv of servers) {
      if (srv instanceof http.Server) srv.closeAllConnections();
      srv.close();
    }
  });

  it("online when the Docker API answers /_ping", async () => {
    const r = await probeHost(host({ port: dockerApi }), deps());
    assert.deepEqual([r.online, r.via, r.reason], [true, "tcp", null]);
    assert.match(r.detail!, /Docker API answers/);
  });
  it("online but flagged when the port accepts TCP and is no Docker API", async () => {
    const r = await probeHost(host({ port: notHttp }), deps());
    assert.equal(r.online, true);
    assert.match(r.detail!, /TCP open, but no Docker API/);
  });
  it("offline with a reason when nothing listens", async () => {
    const port = await closedPort();
    const r = await probeHost(host({ port }), deps());
    assert.deepEqual([r.online, r.via], [false, "tcp"]);
    assert.equal(r.reason, `nothing accepts TCP connections on 127.0.0.1:${port}`);
  });
  it("localhost asks the local Docker engine", async () => {
    const lh = host({ id: "localhost" });
    const up = await probeHost(lh, deps({ dockerPing: async () => undefined }));
    assert.deepEqual([up.online, up.via], [true, "docker"]);
    const down = await probeHost(
      lh,
      deps({ dockerPing: () => Promise.reject(new Error("cannot reach the Docker engine")) }),
    );
    assert.deepEqual([down.online, down.reason], [false, "cannot reach the Docker engine"]);
  });
  it("gives up after the per-host timeout", async () => {
    const lh = host({ id: "localhost" });
    const started = Date.now();
    const r = await probeHost(
      lh,
      deps({ timeoutMs: 100, dockerPing: () => new Promise(() => {}) }),
    );
    assert.equal(r.online, false);
    assert.match(r.reason!, /no answer within 100ms/);
    assert.ok(Date.now() - started < 3000);
  });
  it("SSH hosts go through ssh: a closed port is offline with ssh's reason", async () => {
    const port = await closedPort();
    const r = await probeHost(
      host({ sshHost: "127.0.0.1", sshPort: port, sshUser: "root" }),
      deps({ ssh: { knownHostsFile: "/dev/null", identity: undefined } }),
    );
    assert.deepEqual([r.online, r.via], [false, "ssh"]);
    assert.match(r.reason!, /Connection refused/);
  });
});

describe("hostJson", () => {
  it("nests SSH access and prints times as ISO strings", () => {
    const j = hostJson(
      host({ sshHost: "10.0.0.5", sshPort: null, sshUser: "root", lastHeartbeatMs: 0 }),
    );
    assert.deepEqual(j.ssh, { user: "root", host: "10.0.0.5", port: 22 });
    assert.equal(j.lastHeartbeat, "1970-01-01T00:00:00.000Z");
    assert.equal(hostJson(host({})).ssh, null);
  });
});
