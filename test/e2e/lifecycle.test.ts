/**
 * dust-hive's test list (its items 1-16), adapted to small fixture services and run through the
 * built CLI: real daemons, real containers, real git worktrees, real Pulumi stacks. Fixture:
 * test/fixtures/devenv (envctl.yaml: Postgres + TCP containers, a cold watcher, an HTTP daemon
 * and a TCP daemon; light.yaml: the daemons only).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, afterEach, describe, it } from "node:test";
import { Catalog } from "../../lib/catalog/catalog";
import {
  assertCreatedNothing,
  assertNoTrace,
  childEnv,
  envctl,
  said,
  type Run,
} from "../support/cli";
import {
  branches,
  DEMO,
  dockerLeftovers,
  envName,
  git,
  httpGet,
  makeRepo,
  postgresAnswers,
  ROOT,
  tempDir,
  worktreeDirs,
} from "../support/env";

const FIXTURE = path.join(ROOT, "test", "fixtures", "devenv");

interface Sandbox {
  home: string;
  repo: string;
  run: (args: string[], input?: string) => Promise<Run>;
  /** Runs and insists on exit 0. */
  ok: (args: string[]) => Promise<Run>;
  envs: string[];
}

const sandboxes: Sandbox[] = [];

function sandbox(): Sandbox {
  const home = tempDir("home");
  const repo = makeRepo({ copyFrom: FIXTURE });
  fs.cpSync(path.join(DEMO, "db"), path.join(repo, "db"), { recursive: true });
  git(repo, "add", "-A");
  git(repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "db image");
  const run = (args: string[], input?: string): Promise<Run> =>
    envctl(args, { home, cwd: repo, ...(input !== undefined ? { input } : {}) });
  const sb: Sandbox = {
    home,
    repo,
    run,
    ok: async (args) => {
      const r = await run(args);
      assert.equal(r.code, 0, said(r));
      assertNoTrace(r);
      return r;
    },
    envs: [],
  };
  sandboxes.push(sb);
  return sb;
}

/** Destroys every env a test made (even when it failed), then removes its home and repo. */
async function cleanup(): Promise<void> {
  for (const sb of sandboxes.splice(0)) {
    for (const name of sb.envs) await sb.run(["destroy", name, "--yes", "--force"]);
    fs.rmSync(sb.home, { recursive: true, force: true });
    fs.rmSync(sb.repo, { recursive: true, force: true });
  }
}

/**
 * `pulumi preview --expect-no-changes` by hand in the home's project: cool and stop skip the
 * program (a targeted destroy), and must leave the stack exactly as the program plans it.
 */
function plansNothing(sb: Sandbox, name: string): void {
  const vars = JSON.parse(
    execFileSync(process.execPath, [path.join(ROOT, "bin", "envctl"), "env", "--json"], {
      env: childEnv(sb.home),
      encoding: "utf8",
    }),
  ) as Record<string, string>;
  execFileSync("pulumi", ["preview", "--stack", name, "--expect-no-changes", "--non-interactive"], {
    cwd: path.join(sb.home, "project"),
    env: { ...childEnv(sb.home), ...vars },
    stdio: "pipe",
  });
}

async function spawnEnv(
  sb: Sandbox,
  prefix: string,
  spec = "light.yaml",
  extra: string[] = [],
): Promise<string> {
  const name = envName(prefix);
  sb.envs.push(name);
  await sb.ok(["spawn", name, "-f", spec, "--no-open", ...extra]);
  return name;
}

interface ListedEnv {
  name: string;
  state: string;
  desired: string;
  warnings: string[];
  block: number;
  ports: { from: number; to: number };
  services: { name: string; expected: boolean; running: boolean | null }[];
}

async function listed(sb: Sandbox): Promise<Map<string, ListedEnv>> {
  const r = await sb.ok(["list", "--json"]);
  const doc = JSON.parse(r.stdout) as { envs: ListedEnv[] };
  return new Map(doc.envs.map((e) => [e.name, e]));
}

function pidOf(sb: Sandbox, env: string, service: string): number | undefined {
  try {
    const rec = JSON.parse(
      fs.readFileSync(path.join(sb.home, "envs", env, `${service}.pid`), "utf8"),
    ) as { pid: number };
    return rec.pid;
  } catch {
    return undefined;
  }
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function echo(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port }, () => sock.write(text));
    sock.setTimeout(5000, () => sock.destroy(new Error(`echo on ${port} timed out`)));
    sock.once("data", (d) => {
      sock.destroy();
      resolve(d.toString());
    });
    sock.once("error", reject);
  });
}

function runningContainers(env: string): string[] {
  return execFileSync(
    "docker",
    ["ps", "--filter", `label=envctl.env=${env}`, "--format", '{{.Label "envctl.service"}}'],
    { encoding: "utf8" },
  )
    .split("\n")
    .filter(Boolean)
    .sort();
}

afterEach(cleanup);
after(cleanup);

describe("dev environments: lifecycle", { timeout: 15 * 60_000 }, () => {
  it("1. warm makes every service healthy on the env's block; status agrees", async () => {
    const sb = sandbox();
    const name = await spawnEnv(sb, "health", "envctl.yaml");
    await sb.ok(["warm", name]);
    const env = (await listed(sb)).get(name)!;
    const base = env.ports.from;
    const api = await httpGet(`http://127.0.0.1:${base}/`);
    assert.equal(api.status, 200);
    const body = JSON.parse(api.body) as Record<string, unknown>;
    // env.sh reached the daemon: ports of this block, and FORCE_COLOR.
    assert.equal(body.port, base);
    assert.equal(body.database, `postgres://postgres@localhost:${base + 432}/postgres`);
    assert.equal(body.cache, `tcp://localhost:${base + 379}`);
    assert.equal(body.color, "1");
    assert.equal(await echo(base + 1, "hi"), "echo:hi");
    assert.ok(await postgresAnswers(base + 432), "postgres answers on +432");
    assert.deepEqual(runningContainers(name), ["cache", "db"]);

    const st = await sb.run(["status", name, "--json"]);
    assert.equal(st.code, 0, said(st));
    const doc = JSON.parse(st.stdout) as {
      ok: boolean;
      state: string;
      services: { name: string; health: string; running: boolean }[];
    };
    assert.equal(doc.ok, true);
    assert.equal(doc.state, "warm");
    assert.deepEqual(
      doc.services.map((s) => [s.name, s.running, s.health]),
      [
        ["db", true, "healthy"],
        ["cache", true, "healthy"],
        ["watch", true, "healthy"],
        ["api", true, "healthy"],
        ["echo", true, "healthy"],
      ],
    );
    // Started in dependency order, each after its upstream was healthy.
    const started = ["watch", "api", "echo"].map(
      (s) => fs.statSync(path.join(sb.home, "envs", name, `${s}.pid`)).mtimeMs,
    );
    assert.ok(
      started[0]! <= started[1]! && started[1]! <= started[2]!,
      `order ${started.join(" ")}`,
    );
  });

  it("2. spawn --base -> open -> destroy: a shell in the worktree with env.sh loaded", async () => {
    const sb = sandbox();
    // --base: the env's branch starts from another branch than the spec's base.
    git(sb.repo, "checkout", "-qb", "feature");
    fs.writeFileSync(path.join(sb.repo, "FEATURE.md"), "on feature\n");
    git(sb.repo, "add", "-A");
    git(sb.repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "feature");
    git(sb.repo, "checkout", "-q", "main");
    const name = await spawnEnv(sb, "open", "light.yaml", ["--base", "feature"]);
    assert.ok(
      fs.existsSync(path.join(sb.home, "worktrees", name, "FEATURE.md")),
      "branched from feature",
    );
    const env = (await listed(sb)).get(name)!;
    const r = await sb.run(["open", name], 'echo "PORT=$PORT"; pwd; exit 0\n');
    assert.equal(r.code, 0, said(r));
    assert.match(r.stdout, new RegExp(`PORT=${env.ports.from}\\b`));
    assert.ok(r.stdout.includes(path.join(sb.home, "worktrees", name)), said(r));
    // The viewer exiting leaves the env's daemons alone.
    assert.ok(alive(pidOf(sb, name, "watch")), "watch survives the viewer");
    await sb.ok(["destroy", name, "--yes"]);
    sb.envs = [];
    assertCreatedNothing(sb.home, sb.repo, name, true);
    assert.ok(!alive(pidOf(sb, name, "watch")));
  });

  it("3. spawn -> warm -> cool -> stop -> start: list and reality agree at every step", async () => {
    const sb = sandbox();
    const name = await spawnEnv(sb, "cycle", "envctl.yaml");
    const expect = async (state: string, running: string[], containers: string[]) => {
      const env = (await listed(sb)).get(name)!;
      assert.equal(env.state, state);
      assert.deepEqual(env.warnings, []);
      const procs = ["watch", "api", "echo"].filter((s) => alive(pidOf(sb, name, s)));
      assert.deepEqual(procs, running, `daemons while ${state}`);
      assert.deepEqual(runningContainers(name), containers, `containers while ${state}`);
    };
    await expect("cold", ["watch"], []);
    const watchPid = pidOf(sb, name, "watch");
    await sb.ok(["warm", name]);
    await expect("warm", ["watch", "api", "echo"], ["cache", "db"]);
    const cool = await sb.ok(["cool", name, "--json"]);
    const doc = JSON.parse(cool.stdout) as {
      changes: Record<string, number>;
      outputs: { state: string; services: Record<string, { running: boolean }> };
    };
    assert.deepEqual(
      Object.keys(doc.changes).filter((k) => k !== "same"),
      ["delete"],
    );
    assert.equal(doc.outputs.state, "cold");
    assert.equal(doc.outputs.services.watch!.running, true);
    assert.equal(doc.outputs.services.db!.running, false);
    await expect("cold", ["watch"], []);
    assert.equal(pidOf(sb, name, "watch"), watchPid, "cool keeps the cold daemon running");
    plansNothing(sb, name);
    const volumes = dockerLeftovers(name).volumes;
    assert.equal(volumes.length, 1, "cool keeps the volume");
    await sb.ok(["stop", name]);
    await expect("stopped", [], []);
    plansNothing(sb, name);
    assert.deepEqual(dockerLeftovers(name).volumes, volumes, "stop keeps the volume");
    assert.ok(fs.existsSync(path.join(sb.home, "worktrees", name)), "stop keeps the worktree");
    await sb.ok(["start", name]);
    await expect("cold", ["watch"], []);
  });

  it("4. three cold envs spawned at once get three blocks", async () => {
    const sb = sandbox();
    const names = [envName("c1"), envName("c2"), envName("c3")];
    sb.envs.push(...names);
    const runs = await Promise.all(
      names.map((n) => sb.run(["spawn", n, "-f", "light.yaml", "--no-open"])),
    );
    runs.forEach((r) => assert.equal(r.code, 0, said(r)));
    const envs = await listed(sb);
    const blocks = names.map((n) => envs.get(n)!.block).sort();
    assert.deepEqual(blocks, [0, 1, 2]);
    for (const n of names) assert.equal(envs.get(n)!.state, "cold");
  });

  it("5. two warm envs side by side: no port conflict, each answers on its own block", async () => {
    const sb = sandbox();
    const a = await spawnEnv(sb, "wa");
    await sb.ok(["warm", a]);
    const b = await spawnEnv(sb, "wb");
    await sb.ok(["warm", b]);
    const envs = await listed(sb);
    const [pa, pb] = [envs.get(a)!.ports.from, envs.get(b)!.ports.from];
    assert.notEqual(pa, pb);
    for (const p of [pa, pb]) {
      const body = JSON.parse((await httpGet(`http://127.0.0.1:${p}/`)).body) as { port: number };
      assert.equal(body.port, p);
      assert.equal(await echo(p + 1, "x"), "echo:x");
    }
  });

  it("6-8. daemons outlive the CLI; first warm initializes once", async () => {
    const sb = sandbox();
    const name = await spawnEnv(sb, "init");
    await sb.ok(["warm", name]);
    const pid = pidOf(sb, name, "api");
    assert.ok(alive(pid), "api runs after the CLI exited");
    const runs = path.join(sb.home, "worktrees", name, ".init-runs");
    assert.equal(
      fs.readFileSync(runs, "utf8"),
      `seeded for ${(await listed(sb)).get(name)!.ports.from}\n`,
    );
    await sb.ok(["cool", name]);
    assert.ok(!alive(pid), "cool stopped api");
    await sb.ok(["warm", name]);
    assert.equal(fs.readFileSync(runs, "utf8").split("\n").filter(Boolean).length, 1);
    assert.ok(fs.existsSync(path.join(sb.home, "envs", name, "initialized")));
  });

  it("9-10, 14. a daemon killed by hand: ⚠ in list and status; warm restarts it", async () => {
    const sb = sandbox();
    const name = await spawnEnv(sb, "crash");
    await sb.ok(["warm", name]);
    const pid = pidOf(sb, name, "api")!;
    process.kill(-pid, "SIGKILL");
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    const env = (await listed(sb)).get(name)!;
    assert.equal(env.desired, "warm");
    assert.deepEqual(env.warnings, ["api died"]);
    const human = await sb.ok(["list"]);
    assert.match(human.stdout, /⚠/);
    assert.match(human.stdout, /api died/);
    const st = await sb.run(["status", name]);
    assert.equal(st.code, 1, said(st));
    assert.match(st.stdout, /api .*no \(crashed\)/);

    const warm = await sb.ok(["warm", name]);
    assert.match(warm.stderr, /api died; restarting/);
    const again = pidOf(sb, name, "api");
    assert.ok(alive(again) && again !== pid, "api restarted");
    assert.deepEqual((await listed(sb)).get(name)!.warnings, []);
    assert.ok(alive(pidOf(sb, name, "echo")), "echo kept running");
  });

  it("12-13. duplicate names and invalid transitions are refused with the reason (exit 2)", async () => {
    const sb = sandbox();
    const name = await spawnEnv(sb, "dup");
    const before = (await listed(sb)).get(name);
    const dup = await sb.run(["spawn", name, "-f", "light.yaml", "--no-open"]);
    assert.equal(dup.code, 2, said(dup));
    assert.match(dup.stderr, new RegExp(`env ${name} already exists`));
    assert.deepEqual((await listed(sb)).get(name), before, "the first env is untouched");

    const cool = await sb.run(["cool", name]);
    assert.equal(cool.code, 2, said(cool));
    assert.match(cool.stderr, /is already cold/);
    await sb.ok(["stop", name]);
    const warm = await sb.run(["warm", name]);
    assert.equal(warm.code, 2, said(warm));
    assert.match(warm.stderr, /is stopped: run `envctl start .*` first/);
    const stop = await sb.run(["stop", name]);
    assert.equal(stop.code, 2);
    assert.match(stop.stderr, /already stopped/);
    const ghost = await sb.run(["warm", "ghost"]);
    assert.equal(ghost.code, 2);
    assert.match(ghost.stderr, /env ghost does not exist/);
    for (const r of [dup, cool, warm, stop, ghost]) assertNoTrace(r);
  });

  it("15. a spawn that fails halfway removes what it created and says why", async () => {
    const sb = sandbox();
    const bad = fs
      .readFileSync(path.join(FIXTURE, "light.yaml"), "utf8")
      .replace("cmd: node watch.js", "cmd: echo compiler exploded; exit 7");
    fs.writeFileSync(path.join(sb.repo, "bad.yaml"), bad);
    git(sb.repo, "add", "-A");
    git(sb.repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "bad");
    const name = envName("fail");
    const r = await sb.run(["spawn", name, "-f", "bad.yaml", "--no-open"]);
    assert.equal(r.code, 1, said(r));
    assertNoTrace(r);
    assert.match(r.stderr, /watch exited before it was healthy/);
    assert.match(r.stderr, /compiler exploded/);
    assert.match(r.stderr, /everything it created was removed/);
    assertCreatedNothing(sb.home, sb.repo, name, true);
  });

  it("16. destroy refuses uncommitted changes without --force, then removes everything", async () => {
    const sb = sandbox();
    const name = await spawnEnv(sb, "dirty");
    await sb.ok(["warm", name]);
    const pids = ["watch", "api", "echo"].map((s) => pidOf(sb, name, s));
    fs.writeFileSync(path.join(sb.home, "worktrees", name, "wip.txt"), "unsaved\n");
    const refused = await sb.run(["destroy", name, "--yes"]);
    assert.equal(refused.code, 1, said(refused));
    assert.match(refused.stderr, /that exists nowhere else; commit and push it, or pass --force/);
    assert.match(refused.stderr, /wip\.txt/);
    assert.ok(pids.every(alive), "nothing stopped by a refused destroy");
    await sb.ok(["destroy", name, "--yes", "--force"]);
    sb.envs = [];
    assert.ok(!pids.some(alive), "every daemon stopped");
    assertCreatedNothing(sb.home, sb.repo, name, true);
    const catalog = Catalog.open(path.join(sb.home, "catalog.db"));
    try {
      assert.equal(catalog.getEnv(name), undefined);
    } finally {
      catalog.close();
    }
    assert.ok(!worktreeDirs(sb.repo).some((d) => d.includes(name)));
    assert.ok(!branches(sb.repo).includes(`${name}-workspace`));
  });
});
