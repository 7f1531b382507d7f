/**
 * The a3s document's supervisor, router and verbs, through the built CLI with real processes:
 * restart with backoff, `restart: no`, max_restarts, liveness, file watching, per-service
 * restart/warm/cool, events, logs --timestamps/--since, the `*.localhost` proxy (HTTP and a
 * websocket) and A3sfile.hcl envs on fixed ports. Nothing is left running after destroy.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import WebSocket from "ws";
import { assertNoTrace, childEnv, envctl, said, type Run } from "../support/cli";
import { makeRepo, ROOT, tempDir } from "../support/env";

const WS_MODULE = path.join(ROOT, "node_modules", "ws");

/** An HTTP server on $PORT: /health (200, or 500 after /sick), a websocket echo, its pid. */
const SERVER = `const http = require("http");
const { WebSocketServer } = require(process.env.WS_MODULE);
let healthy = true;
const server = http.createServer((q, r) => {
  if (q.url === "/health") { r.statusCode = healthy ? 200 : 500; return r.end(healthy ? "ok" : "sick"); }
  if (q.url === "/sick") { healthy = false; return r.end("sick now"); }
  r.end(process.env.NAME + " " + process.pid + " " + q.headers.host);
});
new WebSocketServer({ server }).on("connection", (ws) => ws.on("message", (m) => ws.send("echo:" + m)));
server.listen(Number(process.env.PORT), "127.0.0.1", () => {
  console.log("listening on", process.env.PORT);
  console.error("ready (stderr)");
});
process.on("SIGTERM", () => { console.log("bye"); process.exit(0); });
`;

/** Ports outside every env block (blocks start at 10000), random so reruns never meet TIME_WAIT. */
const base = 7100 + Math.floor(Math.random() * 80) * 10;
const PROXY_PORT = base;

function spec(body: string): string {
  return `dev: { proxy_port: ${PROXY_PORT} }\nservices:\n${body}`;
}

const svc = (name: string, extra = "", port = 3000): string =>
  `  ${name}:
    cmd: node server.js
    ports: [{ port: ${port} }]
    env: { NAME: ${name}, WS_MODULE: ${WS_MODULE} }
    health: { http: /health, interval: 300ms, retries: 2 }
${extra}`;

interface Box {
  home: string;
  repo: string;
  run(args: string[]): Promise<Run>;
  ok(args: string[]): Promise<Run>;
  state(env: string): string;
  pid(env: string, service: string): number | undefined;
  events(env: string): Record<string, unknown>[];
  /** The host port of the service's first port (from status --json). */
  port(env: string, service: string): Promise<number>;
}

const boxes: { box: Box; envs: Set<string> }[] = [];

function box(files: Record<string, string>): Box {
  const home = tempDir("home");
  const repo = makeRepo({ files: { "server.js": SERVER, ...files } });
  const envs = new Set<string>();
  const run = (args: string[]): Promise<Run> => {
    if (args[0] === "up" && args[1]) envs.add(args[1]);
    return envctl(args, { home, cwd: repo, timeoutMs: 120_000 });
  };
  const b: Box = {
    home,
    repo,
    run,
    async ok(args) {
      const r = await run(args);
      assert.equal(r.code, 0, said(r));
      assertNoTrace(r);
      return r;
    },
    state: (env) => path.join(home, "envs", env),
    pid(env, service) {
      try {
        const file = path.join(b.state(env), `${service}.pid`);
        return (JSON.parse(fs.readFileSync(file, "utf8")) as { pid: number }).pid;
      } catch {
        return undefined;
      }
    },
    async port(env, service) {
      const r = await run(["status", env, "--json"]);
      const doc = JSON.parse(r.stdout) as {
        services: { name: string; ports: Record<string, number> }[];
      };
      return Object.values(doc.services.find((x) => x.name === service)!.ports)[0]!;
    },
    events(env) {
      const file = path.join(b.state(env), "events.ndjson");
      if (!fs.existsSync(file)) return [];
      return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
  boxes.push({ box: b, envs });
  return b;
}

after(async () => {
  for (const { box: b, envs } of boxes) {
    for (const env of envs) await b.run(["destroy", env, "--yes", "--force"]);
    fs.rmSync(b.home, { recursive: true, force: true });
    fs.rmSync(b.repo, { recursive: true, force: true });
  }
});

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Processes whose command line mentions `dir`, or that run in it (their cwd): a service's
 * program, a supervisor or a proxy started from there.
 */
function processesWith(dir: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      if (cwd === dir || cwd.startsWith(`${dir}/`) || args.includes(dir))
        out.push(`${pid} ${args}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

function get(port: number, host: string, p = "/"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: "127.0.0.1", port, path: p, headers: { host }, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
  });
}

/** Kills the service's shell (the pid file's process) as `kill -9` would. */
function kill9(b: Box, env: string, service: string): number {
  const pid = b.pid(env, service)!;
  process.kill(pid, "SIGKILL");
  return pid;
}

/** The pid of the service's program (the shell's child), as the test server reports it. */
function apiPid(b: Box, env: string): number {
  const shell = b.pid(env, "api")!;
  const out = execFileSync("ps", ["-o", "pid=,args=", "-g", String(shell)], { encoding: "utf8" });
  const line = out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .find((w) => w.slice(1).join(" ") === "node server.js")!;
  return Number(line[0]);
}

const stateOf = (b: Box, env: string, service: string, phase: string) =>
  b.events(env).filter((e) => e.type === "state" && e.service === service && e.state === phase);

describe("the supervisor: restarts with backoff, restart: no, max_restarts", () => {
  const b = box({
    "envctl.yaml": spec(
      svc("api", "    restart: on-failure\n    max_restarts: 3\n", 3000) +
        svc("once", "", 3001) +
        svc("web", "    depends_on: [api]\n", 3002),
    ),
  });

  it("kill -9: restarted after 1s, then after 2s on the next crash; dependents keep running", async () => {
    await b.ok(["up", "sv", "--yes"]);
    assert.ok(b.pid("sv", ".supervisor"), "the supervisor runs");
    const web = b.pid("sv", "web");
    const first = kill9(b, "sv", "api");
    await until(
      "api back",
      () =>
        (b.pid("sv", "api") ?? first) !== first && stateOf(b, "sv", "api", "running").length >= 1,
    );
    const second = b.pid("sv", "api")!;
    kill9(b, "sv", "api");
    await until("api back again", () => stateOf(b, "sv", "api", "running").length >= 2);
    const backoffs = stateOf(b, "sv", "api", "backoff");
    assert.deepEqual(
      backoffs.map((e) => Math.round((e.nextRetryMs as number) / 1000)),
      [1, 2],
      "exponential: 1s, then 2s",
    );
    // The restart waited its backoff each time.
    const starts = stateOf(b, "sv", "api", "starting");
    for (let i = 0; i < 2; i++) {
      const waited =
        Date.parse(starts[i]!.time as string) - Date.parse(backoffs[i]!.time as string);
      assert.ok(waited >= (i + 1) * 1000 - 50, `restart ${i + 1} waited ${waited}ms`);
    }
    assert.notEqual(b.pid("sv", "api"), second);
    assert.equal(b.pid("sv", "web"), web, "web was not restarted with its upstream");
    const r = await get(await b.port("sv", "api"), "x");
    assert.equal(r.body.split(" ")[1], String(apiPid(b, "sv")), "the restarted program answers");
  });

  it("restart: no stays down, and list and status say it died", async () => {
    kill9(b, "sv", "once");
    await until("once seen down", () => stateOf(b, "sv", "once", "crashed").length === 1);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(stateOf(b, "sv", "once", "starting").length, 0, "never restarted");
    const list = await b.run(["list"]);
    assert.match(list.stdout + list.stderr, /once died/);
    const status = await b.run(["status", "sv", "--json"]);
    assert.equal(status.code, 1, said(status));
    const once = (
      JSON.parse(status.stdout) as { services: { name: string; crashed: boolean }[] }
    ).services.find((x) => x.name === "once")!;
    assert.equal(once.crashed, true);
  });

  it("a crash loop stops at max_restarts, failed with the reason and the last log lines", async () => {
    // Two restarts happened above: the third crash is restarted, the fourth is one too many.
    kill9(b, "sv", "api");
    await until("restart 3", () => stateOf(b, "sv", "api", "running").length >= 3, 30_000);
    kill9(b, "sv", "api");
    await until("api failed", () => stateOf(b, "sv", "api", "failed").length === 1, 30_000);
    const failed = stateOf(b, "sv", "api", "failed")[0]!;
    assert.match(failed.reason as string, /gave up after 3 restarts \(max_restarts\)/);
    const status = await b.run(["status", "sv"]);
    assert.match(status.stdout, /api\s.*no \(failed\)/);
    assert.match(status.stdout, /--- api failed: .*last lines of api\.log ---\nlistening on/);
    // What the killed shell left (node, the stamper) is stopped: nothing holds the port.
    const port = await b.port("sv", "api");
    assert.ok(
      !(await get(port, "x").then(
        () => true,
        () => false,
      )),
      "api's port is free",
    );
  });
});

describe("liveness: a service whose health turns bad is unhealthy within one interval", () => {
  const b = box({ "envctl.yaml": spec(svc("api", "    restart: always\n")) });

  it("shows unhealthy, then the policy restarts it", async () => {
    await b.ok(["up", "lv", "--yes"]);
    const before = b.pid("lv", "api");
    const port = await b.port("lv", "api");
    const sick = Date.now();
    assert.equal((await get(port, "x", "/sick")).status, 200);
    await until("unhealthy event", () =>
      b.events("lv").some((e) => e.type === "health" && e.service === "api" && e.healthy === false),
    );
    const ev = b.events("lv").find((e) => e.type === "health" && e.healthy === false)!;
    // interval 300ms x retries 2, plus a tick: well within one more interval of the second failure.
    assert.ok(Date.parse(ev.time as string) - sick < 3_000, "seen within the probe interval");
    assert.match(ev.reason as string, /HTTP 500/);
    await until(
      "restarted",
      () => b.pid("lv", "api") !== before && stateOf(b, "lv", "api", "running").length >= 1,
    );
    await until("healthy again", async () => (await get(port, "x", "/health")).status === 200);
  });
});

describe("file watching: one restart per burst, none for ignored paths", () => {
  const b = box({
    "envctl.yaml": spec(
      svc("api", "    watch: { paths: [src], ignore: ['*.tmp', 'cache'], debounce: 300ms }\n"),
    ),
    "src/a.js": "1\n",
  });

  it("touch: exactly one restart; 50 changes: one; an ignored path: none", async () => {
    await b.ok(["up", "wt", "--yes"]);
    const src = path.join(b.home, "worktrees", "wt", "src");
    const restarts = () => stateOf(b, "wt", "api", "starting").length;
    const p0 = b.pid("wt", "api");
    fs.utimesSync(path.join(src, "a.js"), new Date(), new Date());
    await until(
      "one restart",
      () => restarts() === 1 && stateOf(b, "wt", "api", "running").length >= 1,
    );
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(restarts(), 1);
    const p1 = b.pid("wt", "api");
    assert.notEqual(p1, p0);
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(src, `f${i % 5}.js`), `${i}\n`);
    await until("burst restart", () => restarts() === 2);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(restarts(), 2, "50 changes in a burst: one restart");
    const watchEvents = b.events("wt").filter((e) => e.type === "watch");
    assert.equal(watchEvents.length, 2);
    await until("running", () => stateOf(b, "wt", "api", "running").length >= 2);
    const p2 = b.pid("wt", "api");
    fs.writeFileSync(path.join(src, "x.tmp"), "ignored\n");
    fs.mkdirSync(path.join(src, "cache"));
    fs.writeFileSync(path.join(src, "cache", "y.js"), "ignored\n");
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(restarts(), 2, "ignored paths restart nothing");
    assert.equal(b.pid("wt", "api"), p2);
  });
});

describe("restart, warm and cool of one service; events; logs --timestamps/--since", () => {
  const b = box({
    "envctl.yaml": spec(
      svc("db", "    restart: on-failure\n", 3000) +
        svc("api", "    depends_on: [db]\n", 3001) +
        svc("other", "", 3002),
    ),
  });

  it("leave the other services' pids unchanged", async () => {
    await b.ok(["up", "pv", "--yes"]);
    const pids = () => ({
      db: b.pid("pv", "db"),
      api: b.pid("pv", "api"),
      other: b.pid("pv", "other"),
    });
    const p0 = pids();
    const r = await b.ok(["restart", "pv", "api"]);
    assert.match(r.stderr, new RegExp(`restarted api \\(pid ${p0.api} -> \\d+\\)`));
    const p1 = pids();
    assert.notEqual(p1.api, p0.api);
    assert.equal(p1.db, p0.db);
    assert.equal(p1.other, p0.other);

    const cool = await b.ok(["cool", "pv", "db"]);
    assert.match(cool.stderr, /cooling db, api of env pv \(with what depends on them\)/);
    const p2 = pids();
    assert.equal(p2.db, undefined);
    assert.equal(p2.api, undefined, "api needs db: it stops with it");
    assert.equal(p2.other, p0.other);
    const status = JSON.parse((await b.run(["status", "pv", "--json"])).stdout) as {
      state: string;
      services: { name: string; expected: boolean }[];
    };
    assert.equal(status.state, "warm");
    assert.deepEqual(
      status.services.filter((x) => x.expected).map((x) => x.name),
      ["other"],
    );

    const warm = await b.ok(["warm", "pv", "api"]);
    assert.match(warm.stderr, /warming api of env pv \(with what they need\)/);
    const p3 = pids();
    assert.ok(p3.db && p3.api, "api and its upstream db run again");
    assert.equal(p3.other, p0.other);

    const bad = await b.run(["cool", "pv", "nope"]);
    assert.equal(bad.code, 2, said(bad));
    assert.match(bad.stderr, /env pv has no service "nope"/);
    assertNoTrace(bad);
    const badRestart = await b.run(["restart", "pv", "nope"]);
    assert.equal(badRestart.code, 2, said(badRestart));
  });

  it("events streams the supervisor's changes as NDJSON", async () => {
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "envctl"), "events", "pv"], {
      cwd: b.repo,
      env: childEnv(b.home),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    try {
      await new Promise((r) => setTimeout(r, 700));
      kill9(b, "pv", "db");
      await until("streamed", () => /"state":"running"/.test(out) && /"state":"backoff"/.test(out));
      const lines = out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(lines.every((l) => l.env === "pv" && typeof l.time === "string"));
      assert.deepEqual(
        lines
          .filter((l) => l.service === "db" && l.type === "state")
          .map((l) => l.state)
          .slice(0, 3),
        ["backoff", "starting", "running"],
      );
    } finally {
      child.kill();
    }
    const all = await b.ok(["events", "pv", "--no-follow"]);
    assert.equal(all.stdout.split("\n").filter(Boolean).length, b.events("pv").length);
    const later = await b.ok(["events", "pv", "--no-follow", "--since", "2999-01-01T00:00:00Z"]);
    assert.equal(later.stdout.trim(), "");
  });

  it("logs --timestamps prints each line's time, --since leaves older lines out", async () => {
    const t = await b.ok(["logs", "pv", "db", "--timestamps"]);
    assert.match(t.stdout, /db \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z listening on/);
    assert.match(t.stdout, /db \| \d{4}-\d\d-\d\dT\S+Z ready \(stderr\)/, "stderr is stamped too");
    const plain = await b.ok(["logs", "pv", "db"]);
    assert.match(plain.stdout, /db \| listening on/);
    assert.doesNotMatch(plain.stdout, /\d{4}-\d\d-\d\dT/);
    const none = await b.ok(["logs", "pv", "--since", "2999-01-01T00:00:00Z"]);
    assert.equal(none.stdout.trim(), "");
    const recent = await b.ok(["logs", "pv", "--since", "1h", "--timestamps"]);
    // Merged across services in time order.
    const rows = recent.stdout.split("\n").filter(Boolean);
    const services = new Set(rows.map((l) => l.split(" | ")[0]!.trim()));
    assert.ok(services.size >= 3, recent.stdout);
    const times = rows.map((l) => /\| (\S+Z) /.exec(l)![1]!);
    assert.deepEqual([...times].sort(), times, "in time order");
    const bad = await b.run(["logs", "pv", "--since", "yesterday"]);
    assert.equal(bad.code, 2, said(bad));
    assert.match(bad.stderr, /--since: must be a duration/);
  });

  it("destroy leaves no process, supervisor or route behind", async () => {
    await b.ok(["destroy", "pv", "--yes", "--force"]);
    assert.deepEqual(processesWith(path.join(b.home, "envs", "pv")), []);
    assert.deepEqual(processesWith(path.join(b.home, "worktrees", "pv")), []);
  });
});

describe("the *.localhost proxy", () => {
  const b = box({
    "envctl.yaml": spec(
      svc("api", "    subdomain: api\n") + svc("web", "    subdomain: web\n", 3001),
    ),
  });

  it("routes two envs side by side by Host header, passes a websocket, and 502s the rest", async () => {
    await b.ok(["up", "pa", "--yes"]);
    await b.ok(["up", "pb", "--yes"]);
    const a = await get(PROXY_PORT, `api.pa.localhost:${PROXY_PORT}`);
    const bb = await get(PROXY_PORT, `api.pb.localhost:${PROXY_PORT}`);
    assert.equal(a.status, 200);
    assert.equal(a.body.split(" ")[1], String(apiPid(b, "pa")), "pa's api answers");
    assert.notEqual(a.body.split(" ")[1], bb.body.split(" ")[1], "two envs, two processes");
    assert.match(a.body, /api\.pa\.localhost/, "the Host header passes through");
    // Not unique among running envs: the bare name is ambiguous, and says which to use.
    const bare = await get(PROXY_PORT, "api.localhost");
    assert.equal(bare.status, 502);
    assert.match(bare.body, /api\.pa\.localhost or api\.pb\.localhost/);
    const unknown = await get(PROXY_PORT, "nope.pa.localhost");
    assert.equal(unknown.status, 502);
    assert.match(unknown.body, /No route for nope\.pa\.localhost/);
    assert.match(unknown.body, /web\.pb\.localhost/, "the 502 page lists the routes");

    const echo = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${PROXY_PORT}/`, {
        headers: { host: `web.pa.localhost:${PROXY_PORT}` },
      });
      ws.on("open", () => ws.send("hello"));
      ws.on("message", (m: Buffer) => {
        resolve(m.toString("utf8"));
        ws.close();
      });
      ws.on("error", reject);
    });
    assert.equal(echo, "echo:hello");
  });

  it("routes follow cool and destroy; the proxy is gone with the last env", async () => {
    await b.ok(["cool", "pb"]);
    const gone = await get(PROXY_PORT, "api.pb.localhost");
    assert.equal(gone.status, 502);
    // Unique again: the bare name routes to the one env that has it.
    const bare = await get(PROXY_PORT, "api.localhost");
    assert.equal(bare.status, 200);
    assert.match(bare.body, /^api /);
    await b.ok(["warm", "pb"]);
    assert.equal((await get(PROXY_PORT, "api.pb.localhost")).status, 200, "back with warm");
    await b.ok(["destroy", "pa", "--yes", "--force"]);
    assert.equal((await get(PROXY_PORT, "api.pa.localhost")).status, 502, "no route after destroy");
    const only = await get(PROXY_PORT, "api.localhost");
    assert.equal(only.status, 200);
    assert.equal(only.body.split(" ")[1], String(apiPid(b, "pb")), "pb's api");
    await b.ok(["destroy", "pb", "--yes", "--force"]);
    await until("proxy gone", () => processesWith(path.join(b.home, "proxy")).length === 0, 5_000);
    await assert.rejects(get(PROXY_PORT, "api.pa.localhost"), "nothing listens on the proxy port");
  });
});

describe("A3sfile.hcl envs", () => {
  const p1 = base + 1;
  const p2 = base + 2;
  const a3s = `dev {
  proxy_port = ${PROXY_PORT + 5}
}

service "api" {
  cmd       = "PORT=${p1} node ../server.js"
  dir       = "app"
  port      = ${p1}
  subdomain = "api"
  env = {
    NAME      = "api"
    WS_MODULE = "${WS_MODULE}"
  }
  health {
    type     = "http"
    path     = "/health"
    interval = "300ms"
    retries  = 3
  }
}

service "worker" {
  cmd        = "PORT=${p2} node ../server.js"
  dir        = "app"
  port       = ${p2}
  depends_on = ["api"]
  env = {
    NAME      = "worker"
    WS_MODULE = "${WS_MODULE}"
  }
  health {
    type = "tcp"
  }
}
`;
  const b = box({ "A3sfile.hcl": a3s, "app/.keep": "" });

  it("up reads A3sfile.hcl where envctl.yaml would be; its services listen on the file's ports", async () => {
    const v = await b.ok(["validate"]);
    assert.match(v.stdout, /start order api -> worker, fixed ports \d+, \d+/);
    await b.ok(["up", "h1", "--yes"]);
    assert.match((await get(p1, "x")).body, /^api /);
    assert.match((await get(p2, "x")).body, /^worker /);
    assert.match((await get(PROXY_PORT + 5, `api.h1.localhost`)).body, /^api /);
    assert.ok(b.pid("h1", ".supervisor"), "a3s services restart on failure: supervised");
  });

  it("a second env from the same file is refused, naming the ports; nothing is created", async () => {
    const r = await b.run(["up", "h2", "--yes"]);
    assert.equal(r.code, 2, said(r));
    assertNoTrace(r);
    assert.match(r.stderr, new RegExp(`env h1 already has ports ${p1}, ${p2}`));
    assert.ok(!fs.existsSync(path.join(b.home, "worktrees", "h2")));
    const list = JSON.parse((await b.ok(["list", "--json"])).stdout) as {
      envs: { name: string }[];
    };
    assert.deepEqual(
      list.envs.map((e) => e.name),
      ["h1"],
    );
  });

  it("bad A3sfiles: dot-paths at exit 2", async () => {
    const bad = (name: string, text: string) => {
      fs.writeFileSync(path.join(b.repo, name), text);
      return b.run(["validate", "-f", name]);
    };
    const cases: [string, RegExp][] = [
      ['servce "x" {\n}\n', /servce: unknown block "servce"/],
      [
        'service "x" {\n  cmd = "a"\n  port = 1\n  health {\n    type = "grpc"\n  }\n}\n',
        /service\.x\.health\.type: must be one of "http", "tcp"/,
      ],
      [
        'service "x" {\n  cmd = "a"\n  depends_on = ["y"]\n}\nservice "y" {\n  cmd = "b"\n  depends_on = ["x"]\n}\n',
        /service: dependency cycle: x -> y -> x/,
      ],
      ['service "x" {\n  cmd = \n}\n', /bad4\.hcl:2:9: HCL: Invalid expression/],
    ];
    let i = 0;
    for (const [text, want] of cases) {
      const r = await bad(`bad${++i}.hcl`, text);
      assert.equal(r.code, 2, said(r));
      assertNoTrace(r);
      assert.match(r.stdout + r.stderr, want);
    }
  });

  it("the document's whole example validates, in its start order", async () => {
    const doc = fs.readFileSync(path.join(ROOT, "test", "fixtures", "a3s", "A3sfile.hcl"), "utf8");
    const repo = makeRepo({
      files: Object.fromEntries(
        [
          "crates/gateway/src",
          "crates/power/src",
          "crates/search/src",
          "crates/event",
          "crates/lane",
          "crates/safeclaw/src",
          "crates/box",
          "apps/os/src",
        ].map((d) => [`${d}/.keep`, ""]),
      ),
    });
    fs.writeFileSync(path.join(repo, "A3sfile.hcl"), doc);
    const stubs = tempDir("stubs");
    for (const tool of ["cargo", "pnpm"]) {
      fs.writeFileSync(path.join(stubs, tool), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    }
    try {
      const r = await envctl(["validate", "--json"], {
        home: b.home,
        cwd: repo,
        env: { PATH: `${stubs}:${process.env.PATH}` },
      });
      assert.equal(r.code, 0, said(r));
      const v = JSON.parse(r.stdout) as {
        ok: boolean;
        order: string[];
        services: { name: string; ports: { host: number; fixed?: boolean }[] }[];
      };
      assert.deepEqual(v.order, [
        "gateway",
        "power",
        "search",
        "event",
        "lane",
        "safeclaw",
        "box",
        "os",
      ]);
      assert.deepEqual(
        v.services.map((s) => s.ports[0]!.host),
        [8080, 11434, 8081, 4222, 8082, 8083, 8084, 3000],
      );
    } finally {
      fs.rmSync(repo, { recursive: true, force: true });
      fs.rmSync(stubs, { recursive: true, force: true });
    }
  });

  it("destroy: the ports and the proxy are free again", async () => {
    await b.ok(["destroy", "h1", "--yes", "--force"]);
    await assert.rejects(get(p1, "x"));
    await until("proxy gone", () => processesWith(path.join(b.home, "proxy")).length === 0, 5_000);
  });
});
