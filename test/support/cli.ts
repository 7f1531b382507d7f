/** Runs the built CLI (`bin/envctl`) as a user would, with an isolated ENVCTL_HOME. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Catalog } from "../../lib/catalog/catalog";
import { after } from "node:test";
import { branches, dockerLeftovers, makeRepo, ROOT, tempDir, worktreeDirs } from "./env";

const BIN = path.join(ROOT, "bin", "envctl");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The caller's Pulumi/envctl settings must not leak into a test's isolated home, nor its colour
 * settings into what the tests match (a CI's FORCE_COLOR, say).
 */
export function childEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith("PULUMI_") || k.startsWith("ENVCTL_")) delete env[k];
  }
  delete env.FORCE_COLOR;
  delete env.NO_COLOR;
  return { ...env, ENVCTL_HOME: home, ...extra };
}

export function envctl(
  args: string[],
  o: {
    home: string;
    cwd: string;
    env?: Record<string, string>;
    input?: string;
    /** Kill the CLI after this long (a hang then fails the test instead of stalling it). */
    timeoutMs?: number;
  },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: o.cwd,
      env: childEnv(o.home, o.env),
      stdio: [o.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      ...(o.timeoutMs === undefined
        ? {}
        : { timeout: o.timeoutMs, killSignal: "SIGKILL" as const }),
    });
    if (o.input !== undefined) child.stdin!.end(o.input);
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Shown on failure so a wrong exit code comes with what the CLI said. */
export function said(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

export function assertNoTrace(r: Run): void {
  assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace printed\n${said(r)}`);
  assert.doesNotMatch(r.stderr, /internal error/i, `internal error printed\n${said(r)}`);
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

/**
 * Nothing of `name` anywhere: catalog, Pulumi state and config, git, Docker, home dirs.
 * `afterDestroy` tolerates the checkpoint backups Pulumi's file backend keeps on `stack rm`.
 */
export function assertCreatedNothing(
  home: string,
  repo: string,
  name: string,
  afterDestroy = false,
): void {
  const catalogFile = path.join(home, "catalog.db");
  if (fs.existsSync(catalogFile)) {
    const catalog = Catalog.open(catalogFile);
    try {
      assert.deepEqual(catalog.listEnvs(), [], "catalog rows created");
      assert.deepEqual(catalog.leases(), [], "port leases created");
    } finally {
      catalog.close();
    }
  }
  const stackFiles = filesUnder(path.join(home, "state", ".pulumi", "stacks")).filter(
    (f) => !(afterDestroy && /\.bak(\.attrs)?$/.test(f)),
  );
  assert.deepEqual(stackFiles, [], "pulumi stack created");
  assert.deepEqual(worktreeDirs(repo), [fs.realpathSync(repo)], "worktree created");
  assert.ok(!branches(repo).includes(`${name}-workspace`), "branch created");
  assert.deepEqual(
    dockerLeftovers(name),
    { containers: [], volumes: [], networks: [] },
    "docker objects created",
  );
  assert.ok(!fs.existsSync(path.join(ROOT, `Pulumi.${name}.yaml`)), "stack config in the install");
  assert.ok(
    !fs.existsSync(path.join(home, "project", `Pulumi.${name}.yaml`)),
    "stack config file created",
  );
  // Listed rather than joined with `name`: names like ".." would point at the home itself.
  for (const dir of ["worktrees", "envs"]) {
    const full = path.join(home, dir);
    assert.deepEqual(fs.existsSync(full) ? fs.readdirSync(full) : [], [], `${dir}/ not empty`);
  }
}

/**
 * A temp home and a repo holding `files` for env `name`, torn down after the calling test file
 * even when an assertion failed half way: the env destroyed with --force, both dirs removed.
 */
export function envSandbox(
  name: string,
  files: Record<string, string>,
): { home: string; repo: string } {
  const home = tempDir("home");
  const repo = makeRepo({ files });
  after(async () => {
    const r = await envctl(["destroy", name, "--yes", "--force"], { home, cwd: repo });
    if (r.code !== 0 && !/does not exist/.test(r.stderr))
      process.stderr.write(`cleanup destroy: ${said(r)}\n`);
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(repo, { recursive: true, force: true });
  });
  return { home, repo };
}
