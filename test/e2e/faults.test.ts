/**
 * Faults, at CI size, against the real CLI, engine, Docker and git: kill -9 of the whole process
 * group during up, warm and destroy (the next plain verb heals, nothing is left running or
 * behind), two verbs at once on one env (one wins, the other is told who is busy), recover
 * against a live holder, SIGTERM, and up/destroy cycles with every leak counter at zero.
 * bench/faults.ts runs the same harness at any size.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { assertNoTrace, envctl, envSandbox, said } from "../support/cli";
import { envName, PONG_CONTAINER } from "../support/env";
import { describeLeaks, engineSettled, leakCount, leaks, start } from "../support/faults";

// `a` becomes healthy only after 3 s, so every up, warm and destroy has a window to be hit in.
const SPEC = [
  "base: HEAD",
  "services:",
  "  a:",
  "    image: debian:bookworm",
  '    command: ["sh", "-c", "sleep 3; touch /tmp/ok; exec sleep infinity"]',
  '    health: { command: "test -f /tmp/ok", interval: 250ms, retries: 200 }',
  "  b:",
  PONG_CONTAINER,
  "    depends_on: [a]",
  "  p:",
  '    cmd: "exec sleep 1000"',
  "",
].join("\n");

const names: string[] = [];
function nameFor(prefix: string): string {
  const n = envName(prefix);
  names.push(n);
  return n;
}

describe("faults", { timeout: 20 * 60_000 }, () => {
  const first = nameFor("fk");
  const { home, repo } = envSandbox(first, { "envctl.yaml": SPEC });
  const run = (...args: string[]) => envctl(args, { home, cwd: repo });

  async function destroyClean(name: string): Promise<void> {
    const r = await run("destroy", name, "--yes");
    assert.equal(r.code, 0, said(r));
    const left = leaks(home, repo, [name]);
    assert.equal(leakCount(left), 0, `left behind: ${describeLeaks(left)}`);
  }

  async function killAt(args: string[], at: RegExp): Promise<void> {
    const p = start(args, { home, cwd: repo });
    await p.saw(at);
    p.killGroup();
    await p.done;
    const left = await engineSettled(home);
    assert.deepEqual(left, [], "engine processes outlived envctl");
  }

  it("kill -9 of the process group during up, warm and destroy: the next plain verb heals it", async () => {
    const name = first;
    await killAt(["up", name, "--yes"], /Container \S+-a: creating/);
    let r = await run("up", name, "--yes");
    assert.equal(r.code, 0, said(r));
    assert.match(r.stderr, /the last `envctl up` \(pid \d+\) died mid-operation; cleared its lock/);
    assert.match(r.stdout, /a\s+│ container │ running/);

    assert.equal((await run("cool", name)).code, 0);
    await killAt(["warm", name], /Container \S+-a: (creating|updating)/);
    r = await run("warm", name);
    assert.equal(r.code, 0, said(r));
    assert.match(r.stderr, /the last `envctl warm` \(pid \d+\) died mid-operation/);
    r = await run("status", name);
    assert.equal(r.code, 0, said(r));

    await killAt(["destroy", name, "--yes"], /deleting\.\.\./);
    r = await run("destroy", name, "--yes");
    assert.equal(r.code, 0, said(r));
    assert.match(r.stderr, /the last `envctl destroy` \(pid \d+\) died mid-operation/);
    const left = leaks(home, repo, [name]);
    assert.equal(leakCount(left), 0, `left behind: ${describeLeaks(left)}`);
  });

  it("two verbs at once on one env: the second is told who is busy; --wait waits; catalog and stack agree", async () => {
    const name = nameFor("fp");
    assert.equal((await run("up", name, "--yes")).code, 0);
    assert.equal((await run("cool", name)).code, 0);

    // warm holds the env: destroy, up, cool and recover are refused, naming it.
    const warm = start(["warm", name], { home, cwd: repo });
    await warm.saw(/warming env/);
    for (const args of [
      ["destroy", name, "--yes"],
      ["up", name, "--yes"],
      ["cool", name],
    ]) {
      const r = await run(...args);
      assert.equal(r.code, 1, said(r));
      assertNoTrace(r);
      assert.match(
        r.stderr,
        new RegExp(`env ${name} is busy: \`envctl warm\` \\(pid \\d+ on this host`),
      );
    }
    const rec = await run("recover", name);
    assert.equal(rec.code, 1, said(rec));
    assert.match(rec.stderr, /recover would make its state forget what it is creating/);
    const waited = await run("cool", name, "--wait"); // runs once warm is done
    assert.equal((await warm.done).code, 0);
    assert.equal(waited.code, 0, said(waited));
    assert.match((await run("list")).stdout, new RegExp(`${name}\\s+│ cold`));

    // destroy holds it: warm is refused, and once destroy is done the env is gone everywhere.
    const destroy = start(["destroy", name, "--yes"], { home, cwd: repo });
    await destroy.saw(/destroying env/);
    const w = await run("warm", name);
    assert.equal(w.code, 1, said(w));
    assertNoTrace(w);
    assert.equal((await destroy.done).code, 0);
    const after = await run("warm", name);
    assert.equal(after.code, 2, said(after));
    assert.match(after.stderr, /does not exist/);
    const left = leaks(home, repo, [name]);
    assert.equal(leakCount(left), 0, `left behind: ${describeLeaks(left)}`);
  });

  it("recover --force stops a live operation and recovers; SIGTERM stops the engine cleanly", async () => {
    const name = nameFor("fr");
    const up = start(["up", name, "--yes"], { home, cwd: repo });
    await up.saw(/Container \S+-a: creating/);
    const rec = await run("recover", name, "--force");
    assert.equal(rec.code, 0, said(rec));
    assert.match(rec.stderr, /recover --force: stopping `envctl up` \(pid \d+\) mid-operation/);
    assert.match(rec.stderr, /recovered/);
    assert.notEqual((await up.done).code, 0);
    assert.deepEqual(await engineSettled(home), []);
    let r = await run("up", name, "--yes");
    assert.equal(r.code, 0, said(r));

    assert.equal((await run("cool", name)).code, 0);
    const warm = start(["warm", name], { home, cwd: repo });
    await warm.saw(/Container \S+-a: (creating|updating)/);
    warm.child.kill("SIGTERM");
    const stopped = await warm.done;
    assert.equal(stopped.code, 143, said(stopped));
    assert.match(stopped.stderr, /interrupting: letting the engine stop cleanly/);
    assert.deepEqual(await engineSettled(home, 2_000), [], "envctl waited for its engine");
    r = await run("warm", name);
    assert.equal(r.code, 0, said(r));
    assert.doesNotMatch(r.stderr, /died mid-operation/, "a clean stop leaves nothing to heal");
    await destroyClean(name);
  });

  it("destroy removes images an interrupted build left with the env's label", async () => {
    const name = nameFor("fi");
    assert.equal((await run("up", name, "--yes")).code, 0);
    const ctx = fs.mkdtempSync(path.join(home, "ctx-"));
    fs.writeFileSync(path.join(ctx, "Dockerfile"), "FROM debian:bookworm\nRUN true\n");
    execFileSync("docker", ["build", "-q", "--label", `envctl.env=${name}`, ctx], {
      stdio: "ignore",
    });
    assert.equal(leaks(home, repo, [name]).images.length > 0, true, "a leftover image exists");
    await destroyClean(name);
  });

  it("up/destroy cycles leave every counter at zero", async () => {
    const name = nameFor("fc");
    for (let i = 0; i < 2; i++) {
      const r = await run("up", name, "--yes");
      assert.equal(r.code, 0, said(r));
      await destroyClean(name);
    }
  });
});
