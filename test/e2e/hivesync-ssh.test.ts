/**
 * The hivesync kind on an SSH target, for real: a test host of its own (a network namespace
 * with its own address running sshd; test/support/netns-sshd.ts) whose Docker is reached over
 * SSH with the deploy key and a checked host key. The env's containers, volumes and network
 * are made through that connection, its bind sources under the target's root; placeholder
 * secrets are refused first; an unreachable host is a clear error that leaves the env
 * recoverable.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { assertCreatedNothing, assertNoTrace, envctl, said, type Run } from "../support/cli";
import { dockerLeftovers, envName, tempDir } from "../support/env";
import { startNetnsHost, type NetnsHost } from "../support/netns-sshd";
import {
  dotenvFrom,
  makeHivesyncWorkspace,
  TEST_SECRETS,
  type HivesyncWorkspace,
} from "../support/hivesync";

/** Every placeholder of the template filled (the test secrets and the three they leave). */
const FILLED = {
  ...TEST_SECRETS,
  POSTMARK_API_KEY: "pm-1b2c3d-key-for-tests",
  OBJECT_STORAGE_ACCESS_KEY: "ak-4e5f6a-key-for-tests",
};

describe("the hivesync kind on an SSH target, for real", { timeout: 20 * 60_000 }, () => {
  const root = tempDir("hivesync-ssh");
  const home = path.join(root, "envctl-home");
  const remote = path.join(root, "remote-root");
  const name = envName("hss");
  let host: NetnsHost;
  let ws: HivesyncWorkspace;
  let hivesync: Record<string, unknown> = {};
  const run = async (args: string[]): Promise<Run> => {
    const r = await envctl(args, { home, cwd: ws.repo, timeoutMs: 10 * 60_000 });
    assertNoTrace(r);
    return r;
  };

  before(async () => {
    host = await startNetnsHost();
    hivesync = {
      target: "ssh",
      ssh: { host: `root@${host.address}`, identity_file: host.identity, root: remote },
      health: { max_heartbeat_age: "5s" },
    };
    ws = makeHivesyncWorkspace(root, { hivesync });
  });
  after(async () => {
    await envctl(["destroy", name, "--yes", "--force"], { home, cwd: ws.repo }).catch(() => {});
    await host?.cleanup();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("refuses placeholder secrets for a remote target, naming each, before anything is made", async () => {
    const r = await run(["up", name, "-f", ws.spec, "--yes"]);
    assert.equal(r.code, 2, said(r));
    for (const v of ["POSTMARK_API_KEY", "PREVIEW_TOKEN_SECRET", "OBJECT_STORAGE_ACCESS_KEY"]) {
      assert.match(r.stderr, new RegExp(`services\\.backend\\.env\\.${v}: is "REPLACE_ME`), v);
    }
    assert.doesNotMatch(r.stderr, /env\.JWT_SECRET/);
    assert.match(r.stderr, /--generate-secrets fills PREVIEW_TOKEN_SECRET/);
    assertCreatedNothing(home, ws.repo, name);
  });

  it("deploys over SSH: key login, the host key remembered, binds under the target's root", async () => {
    fs.writeFileSync(path.join(ws.repo, ".env"), dotenvFrom(FILLED));
    const r = await run(["up", name, "-f", ws.spec, "--yes", "--generate-secrets"]);
    assert.equal(r.code, 0, `${said(r)}\n--- sshd\n${host.log()}`);
    assert.match(host.log(), /Accepted publickey for root/);
    const known = fs.readFileSync(path.join(home, "known_hosts"), "utf8");
    const hostKey = fs.readFileSync(path.join(host.dir, "host_key.pub"), "utf8").split(" ")[1]!;
    assert.ok(known.includes(`${host.address} ssh-ed25519 ${hostKey}`), known);
    for (const d of ["repos", "previews", "tmp", "logs", "cache"]) {
      assert.ok(fs.statSync(path.join(remote, name, "data", d)).isDirectory(), d);
    }
    assert.ok(
      !fs.existsSync(path.join(home, "worktrees", name, "data", "previews")),
      "binds are the target's, not the checkout's",
    );
    assert.equal(
      execFileSync("docker", ["exec", `envctl-${name}-backend`, "alembic", "current"], {
        encoding: "utf8",
      }).trim(),
      "0001",
    );
  });

  it("status reads health through the same connection", async () => {
    const r = await run(["status", name, "--json"]);
    assert.equal(r.code, 0, said(r));
    const doc = JSON.parse(r.stdout) as {
      health: { status: string };
      services: { name: string; running: boolean }[];
    };
    assert.equal(doc.health.status, "ok");
    assert.ok(
      doc.services.every((s) => s.name === "data-init" || s.running),
      JSON.stringify(doc.services),
    );
  });

  it("an unreachable host is a clear error; the env stays recoverable", async () => {
    fs.writeFileSync(
      path.join(ws.repo, ".env"),
      dotenvFrom({ ...FILLED, OPENAI_API_KEY: "sk-while-down-key" }),
    );
    await host.stop();
    try {
      const r = await run(["up", name, "-f", ws.spec, "--yes"]);
      assert.equal(r.code, 1, said(r));
      assert.match(r.stderr, new RegExp(host.address.replace(/\./g, "\\.")));
      assert.match(r.stderr, /the env is recoverable/);
    } finally {
      await host.start();
    }
    const ok = await run(["up", name, "-f", ws.spec, "--yes"]);
    assert.equal(ok.code, 0, said(ok));
    const env = execFileSync(
      "docker",
      ["inspect", "-f", "{{json .Config.Env}}", `envctl-${name}-worker`],
      { encoding: "utf8" },
    );
    assert.match(env, /"OPENAI_API_KEY=sk-while-down-key"/);
  });

  it("destroy over SSH leaves nothing on the host", async () => {
    const r = await run(["destroy", name, "--yes"]);
    assert.equal(r.code, 0, said(r));
    assert.deepEqual(dockerLeftovers(name), { containers: [], volumes: [], networks: [] });
  });
});
