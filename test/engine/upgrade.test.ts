/**
 * Upgrading envctl in place keeps existing stacks working. A stack is made by the envctl of
 * BASELINE (the last release before the domain layout: flat lib/, stack settings beside the
 * install's Pulumi.yaml), then that install is upgraded to this checkout's build, as
 * `git pull && npm run build` would: the serialized providers in state still load their handlers
 * by path, type tokens and URNs are unchanged, and the stack's settings file moves into the
 * home's project directory. Preview by envctl and by hand shows only unchanged resources, and
 * destroy removes everything, checked against Docker, git and the catalog themselves.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { childEnv } from "../support/cli";
import {
  branches,
  dockerLeftovers,
  envName,
  git,
  makeRepo,
  PONG_CONTAINER,
  ROOT,
  tempDir,
  worktreeDirs,
} from "../support/env";

/** The last commit on main before the domain layout (issue 8's starting point). */
const BASELINE = "67ee1f0";

const SPEC = `base: main
services:
  cache:
${PONG_CONTAINER}
    volumes: ["cachedata:/data"]
    health: { tcp: 6379, interval: 250ms }
  watch:
    cmd: node watch.js
    dir: watch
    cold: true
    health: { command: test -f build/ready, interval: 200ms }
  api:
    cmd: node api/server.js
    ports: [{ container: 3000, offset: 0 }]
    depends_on: [watch, cache]
    health: { http: /healthz, interval: 250ms, retries: 40 }
exports:
  PORT: "{{ports.api}}"
init:
  - name: seed
    run: echo "seeded for $PORT" >> .init-runs
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(install: string, args: string[], home: string, cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(install, "dist", "cli", "index.js"), ...args],
      {
        cwd,
        env: childEnv(home),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const said = (r: Run): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** The baseline's sources, unpacked from git, sharing this checkout's deps and toolchain. */
function baselineInstall(): string {
  const dir = tempDir("install");
  execFileSync("bash", ["-c", `git -C "${ROOT}" archive ${BASELINE} | tar -x -C "${dir}"`]);
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  fs.symlinkSync(path.join(ROOT, ".toolchain"), path.join(dir, ".toolchain"));
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", dir], {
    stdio: "pipe",
  });
  return dir;
}

/**
 * What `git pull` and a build leave: this checkout's program in the same directory, written
 * over the old output the way a bare `tsc` does (the old dist/lib/*.js stay beside the new
 * folders, e.g. dist/lib/docker.js next to dist/lib/docker/).
 */
function upgrade(install: string): void {
  fs.cpSync(path.join(ROOT, "dist"), path.join(install, "dist"), { recursive: true });
  for (const f of ["Pulumi.yaml", "package.json"]) {
    fs.copyFileSync(path.join(ROOT, f), path.join(install, f));
  }
}

const salt = (file: string): string =>
  /^encryptionsalt: (.+)$/m.exec(fs.readFileSync(file, "utf8"))?.[1] ?? "";

describe("upgrading envctl keeps existing stacks", { timeout: 20 * 60_000 }, () => {
  const home = tempDir("home");
  const repo = makeRepo({
    copyFrom: path.join(ROOT, "test", "fixtures", "devenv"),
    files: { "compat.yaml": SPEC },
  });
  const name = envName("upg");
  let install = "";
  let made = "";
  after(async () => {
    if (install) await cli(install, ["destroy", name, "--yes", "--force"], home, repo);
    for (const dir of [home, repo, made]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`a stack made by ${BASELINE} previews unchanged after the move and destroys cleanly`, async () => {
    assert.equal(
      spawnSync("git", ["-C", ROOT, "cat-file", "-e", `${BASELINE}^{commit}`]).status,
      0,
      `commit ${BASELINE} is not in this clone's history (a full clone is needed)`,
    );
    install = made = baselineInstall();
    const created = await cli(install, ["up", name, "-f", "compat.yaml", "--yes"], home, repo);
    assert.equal(created.code, 0, said(created));
    const legacy = path.join(install, `Pulumi.${name}.yaml`);
    assert.ok(fs.existsSync(legacy), "the baseline keeps stack settings beside Pulumi.yaml");
    assert.ok(!fs.existsSync(path.join(install, "dist", "lib", "core")), "baseline layout");

    upgrade(install);
    assert.ok(fs.existsSync(path.join(install, "dist", "lib", "providers", "index.js")));
    assert.ok(fs.existsSync(path.join(install, "dist", "lib", "docker.js")), "old output kept");

    // First thing after the upgrade, Pulumi by hand after `eval "$(envctl env)"`, from anywhere:
    // the settings file is adopted and the plan is "N unchanged".
    const envctl = path.join(install, "dist", "cli", "index.js");
    const byHand = spawnSync(
      "bash",
      ["-c", `eval "$(node '${envctl}' env)" && pulumi preview --stack ${name} --non-interactive`],
      { cwd: repo, env: childEnv(home), encoding: "utf8" },
    );
    assert.equal(byHand.status, 0, byHand.stdout + byHand.stderr);
    assert.match(byHand.stdout, /\d+ unchanged/);
    assert.doesNotMatch(byHand.stdout, /to (create|update|replace|delete)/);
    // The daemons the old envctl started get their start recipes (for restarts) from the state.
    const recipes = spawnSync("find", [home, "-name", "*.run.json"], { encoding: "utf8" });
    assert.deepEqual(
      recipes.stdout
        .split("\n")
        .filter(Boolean)
        .map((f) => path.basename(f))
        .sort(),
      ["api.run.json", "watch.run.json"],
      recipes.stdout,
    );

    const pre = await cli(install, ["preview", name, "-f", "compat.yaml", "--json"], home, repo);
    assert.equal(pre.code, 0, said(pre));
    const doc = JSON.parse(pre.stdout) as { changes: Record<string, number> };
    assert.ok((doc.changes.same ?? 0) >= 8, said(pre));
    assert.deepEqual(
      Object.entries(doc.changes).filter(([k, v]) => k !== "same" && v > 0),
      [],
      said(pre),
    );
    // The settings moved into the home's project with the same encryption salt.
    const moved = path.join(home, "project", `Pulumi.${name}.yaml`);
    assert.ok(fs.existsSync(moved), "settings file adopted into the home's project");
    assert.equal(salt(moved), salt(legacy));

    // The upgraded envctl still drives the stack: a no-op up, then destroy.
    const again = await cli(
      install,
      ["up", name, "-f", "compat.yaml", "--yes", "--json"],
      home,
      repo,
    );
    assert.equal(again.code, 0, said(again));
    const gone = await cli(install, ["destroy", name, "--yes"], home, repo);
    assert.equal(gone.code, 0, said(gone));

    assert.deepEqual(dockerLeftovers(name), { containers: [], volumes: [], networks: [] });
    assert.deepEqual(worktreeDirs(repo), [fs.realpathSync(repo)]);
    assert.ok(!branches(repo).includes(`${name}-workspace`), "branch left");
    assert.ok(!fs.existsSync(moved), "settings file left in the project");
    assert.ok(
      !fs.existsSync(path.join(home, "state", ".pulumi", "stacks", "envctl", `${name}.json`)),
    );
    const db = new Database(path.join(home, "catalog.db"), { readonly: true });
    try {
      const rows = (sql: string): unknown[] => db.prepare(sql).all(name);
      assert.deepEqual(rows("SELECT name FROM envs WHERE name = ?"), [], "catalog row left");
      assert.deepEqual(rows("SELECT env FROM port_leases WHERE env = ?"), [], "lease left");
    } finally {
      db.close();
    }
    assert.equal(git(repo, "status", "--porcelain"), "", "the user's repo untouched");
    install = "";
  });
});
