/**
 * What healing reads and repairs in a file backend (lib/engine/heal.ts), on a hand-made
 * `.pulumi` directory laid out as Pulumi's file backend lays it out.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { describeHealed, pulumiLocks, repairBackendFiles } from "../../lib/engine/heal";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function backend(): { env: Record<string, string>; dir: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-heal-"));
  dirs.push(root);
  return { env: { PULUMI_BACKEND_URL: `file://${root}` }, dir: path.join(root, ".pulumi") };
}

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

describe("healing a file backend", () => {
  it("tells live, dead and foreign pulumi locks apart", () => {
    const { env, dir } = backend();
    const locks = path.join(dir, "locks", "organization", "envctl", "app");
    const exited = Number(spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).stdout);
    const now = new Date().toISOString();
    write(
      path.join(locks, "a.json"),
      JSON.stringify({ pid: process.pid, hostname: os.hostname(), timestamp: now }),
    );
    write(
      path.join(locks, "b.json"),
      JSON.stringify({ pid: exited, hostname: os.hostname(), timestamp: now }),
    );
    write(
      path.join(locks, "c.json"),
      JSON.stringify({ pid: 1, hostname: "elsewhere", timestamp: now }),
    );
    // This process started long before 2001: a lock that old cannot be its.
    write(
      path.join(locks, "d.json"),
      JSON.stringify({
        pid: process.pid,
        hostname: os.hostname(),
        timestamp: "2001-01-01T00:00:00Z",
      }),
    );
    write(path.join(locks, "a.json.attrs"), "{}");
    const states = Object.fromEntries(
      pulumiLocks({ env }, "app").map((l) => [path.basename(l.file), l.state]),
    );
    assert.deepEqual(states, {
      "a.json": "alive",
      "b.json": "dead",
      "c.json": "unknown",
      "d.json": "dead",
    });
    assert.deepEqual(pulumiLocks({ env }, "other"), [], "locks are per stack");
  });

  it("removes the empty sidecar and temp files a killed write left, only the stack's", () => {
    const { env, dir } = backend();
    const stacks = path.join(dir, "stacks", "envctl");
    write(path.join(stacks, "app.json"), "{}");
    write(path.join(stacks, "app.json.attrs"), ""); // killed mid-write: every load says EOF
    write(path.join(stacks, "app.json.18ed502c7af84d18.tmp"), "{");
    write(path.join(stacks, "app.json.bak.attrs"), '{"md5":"x"}');
    write(path.join(stacks, "apple.json.attrs"), ""); // another stack's: not ours to touch
    write(path.join(dir, "history", "envctl", "app", "app-1.checkpoint.json.attrs"), "{");
    assert.equal(repairBackendFiles({ env }, "app"), 3);
    assert.deepEqual(fs.readdirSync(stacks).sort(), [
      "app.json",
      "app.json.bak.attrs",
      "apple.json.attrs",
    ]);
    assert.equal(repairBackendFiles({ env }, "app"), 0, "nothing left to repair");
  });

  it("says what it did in one line", () => {
    assert.equal(
      describeHealed({ processes: 2, locks: 1, repaired: 1, pendingOperations: 1, left: [] }),
      "cleared its lock and 1 pending operation, repaired 1 state file a killed write left, stopped 2 leftover engine processes",
    );
  });
});
