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
import { handlers } from "../../lib/providers";
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

  it("target linode without the Linode provider plugin: exit 1 with the fix, nothing made; doctor's rows", async () => {
    const lroot = tempDir("hivesync-linode");
    const lhome = path.join(lroot, "envctl-home");
    const key = path.join(lroot, "deploy_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    const lws = makeHivesyncWorkspace(lroot, {
      dotenv: dotenvFrom(FILLED),
      hivesync: { target: "linode", linode: { region: "eu-central", identity_file: key } },
    });
    const n = envName("hsl");
    try {
      const r = await envctl(["up", n, "-f", lws.spec, "--yes", "--generate-secrets"], {
        home: lhome,
        cwd: lws.repo,
        env: { LINODE_TOKEN: "" },
      });
      assert.equal(r.code, 1, said(r));
      assertNoTrace(r);
      assert.match(
        r.stderr,
        /cannot up a hivesync env with target linode: linode provider plugin: pulumi-resource-linode \(v5\.1\.1 or a newer 5\.x\) is not installed/,
      );
      assert.match(r.stderr, /pulumi plugin install resource linode v5\.1\.1/);
      assertCreatedNothing(lhome, lws.repo, n);
      const d = await envctl(["doctor", "-f", lws.spec, "--json"], {
        home: lhome,
        cwd: lws.repo,
        env: { LINODE_TOKEN: "" },
      });
      const rows = (JSON.parse(d.stdout) as { checks: { name: string; ok: boolean }[] }).checks;
      assert.equal(rows.find((c) => c.name === "linode provider plugin")?.ok, false, d.stdout);
      assert.equal(rows.find((c) => c.name === "linode token")?.ok, false, d.stdout);
      assert.equal(d.code, 1);
      // A plugin installed where `pulumi plugin install` puts it is seen by preview's own engine
      // too (a stand-in that cannot start: the engine gets as far as loading it).
      const pulumiHome = path.join(lroot, "pulumi-home");
      const pluginDir = path.join(pulumiHome, "plugins", "resource-linode-v5.1.1");
      fs.mkdirSync(pluginDir, { recursive: true });
      fs.writeFileSync(path.join(pluginDir, "pulumi-resource-linode"), "#!/bin/sh\nexit 1\n", {
        mode: 0o755,
      });
      const p = await envctl(["preview", n, "-f", lws.spec, "--generate-secrets"], {
        home: lhome,
        cwd: lws.repo,
        env: { LINODE_TOKEN: "t", PULUMI_HOME: pulumiHome },
        timeoutMs: 180_000,
      });
      assertNoTrace(p);
      assert.notEqual(p.code, 0, said(p));
      assert.doesNotMatch(p.stderr, /is not installed/, said(p));
      assert.match(p.stderr, /linode/i, said(p));
      assertCreatedNothing(lhome, lws.repo, n);
    } finally {
      fs.rmSync(lroot, { recursive: true, force: true });
    }
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

  it("list and logs read the env's containers on its host, not this machine's engine", async () => {
    // The test host's Docker is this machine's, reached over SSH: with this machine's engine
    // out of reach for the CLI, only the SSH endpoint can answer.
    const away = { DOCKER_HOST: "unix:///nonexistent/docker.sock" };
    const run = async (args: string[]): Promise<Run> => {
      const r = await envctl(args, { home, cwd: ws.repo, env: away, timeoutMs: 120_000 });
      assertNoTrace(r);
      return r;
    };
    const l = await run(["list", "--json"]);
    assert.equal(l.code, 0, said(l));
    const env = (
      JSON.parse(l.stdout) as {
        envs: {
          name: string;
          state: string;
          warnings: string[];
          services: { name: string; running: boolean }[];
        }[];
      }
    ).envs.find((e) => e.name === name)!;
    assert.equal(env.state, "warm", JSON.stringify(env));
    assert.deepEqual(env.warnings, []);
    assert.ok(env.services.find((s) => s.name === "backend")?.running, JSON.stringify(env));
    const logs = await run(["logs", name, "backend", "-n", "20"]);
    assert.equal(logs.code, 0, said(logs));
    assert.match(logs.stdout, /backend/);
    assert.doesNotMatch(logs.stdout + logs.stderr, /cannot read its logs/);
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

  // The readiness check a linode target's VM gets (LinodeHost's HostReady), against this host:
  // the real path of what test/mock/hivesync-linode.test.ts can only mock (the Linode API).
  it("a new host's readiness check: a stale key of its address forgotten, SSH and docker info waited for, the reason when it never answers", async () => {
    const readyHome = tempDir("ready-home");
    const knownHosts = path.join(readyHome, "known_hosts");
    // Another machine had this address before: its key would make SSH refuse the new one.
    const stale = `${host.address} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGFub3RoZXItbWFjaGluZXMta2V5LWZvci10ZXN0\n`;
    fs.writeFileSync(knownHosts, stale);
    const saved = process.env.ENVCTL_HOME;
    process.env.ENVCTL_HOME = readyHome;
    const inputs = {
      address: host.address,
      user: "root",
      port: 22,
      keyFile: host.identity,
      timeoutMs: 60_000,
      instance: "48151623",
    };
    try {
      const made = await handlers.hostready!.create(inputs);
      assert.match(String(made.outs.docker), /^\d+\.\d+/, "docker info's server version");
      // OpenSSH wrote the host's real key (hashed, as Debian's ssh_config asks) in its place.
      const known = fs.readFileSync(knownHosts, "utf8").trim().split("\n");
      assert.ok(!known.includes(stale.trim()), known.join("\n"));
      assert.equal(known.length, 1, known.join("\n"));
      assert.match(known[0]!, / ssh-ed25519 AAAA/);
      // The endpoint's key file holds a key this host does not take (another machine's, or
      // rotated): the next key, ENVCTL_SSH_KEY, is tried, and the object is made.
      const wrong = path.join(readyHome, "old_key");
      // Passphrase-protected too: a key that cannot even be read here must not stop the others.
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "not-here", "-f", wrong]);
      const net = `envctl-${name}-keys`;
      const viaWrong = {
        name: net,
        labels: { "envctl.env": name },
        dockerHost: `ssh://root@${host.address}:22?identity=${encodeURIComponent(wrong)}`,
      };
      process.env.ENVCTL_SSH_KEY = host.identity;
      try {
        await handlers.network!.create(viaWrong);
        await handlers.network!.delete("id", viaWrong);
      } finally {
        delete process.env.ENVCTL_SSH_KEY;
      }
      // A host that answers but refuses the login is not gone, even for a forced destroy.
      // (Another key file: clients are kept per endpoint, with the keys they were made with.)
      const refused = path.join(readyHome, "other_key");
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", refused]);
      const viaRefused = {
        ...viaWrong,
        dockerHost: `ssh://root@${host.address}:22?identity=${encodeURIComponent(refused)}`,
      };
      process.env.ENVCTL_FORCE = "1";
      try {
        await assert.rejects(
          handlers.network!.delete("id", viaRefused),
          /authentication|All configured/i,
        );
      } finally {
        delete process.env.ENVCTL_FORCE;
      }
      await host.stop();
      try {
        // A Docker object on a host that is gone: an error, unless destroy is forced, which
        // takes it as gone with its host (a deleted VM).
        const endpoint = `ssh://root@${host.address}:22?identity=${encodeURIComponent(host.identity)}`;
        const props = { name: "envctl-gone-net", labels: {}, dockerHost: endpoint };
        await assert.rejects(handlers.network!.delete("id", props));
        process.env.ENVCTL_FORCE = "1";
        try {
          await handlers.network!.delete("id", props);
        } finally {
          delete process.env.ENVCTL_FORCE;
        }
        await assert.rejects(
          handlers.hostready!.create({ ...inputs, timeoutMs: 1000 }),
          new RegExp(`the host ${host.address.replace(/\./g, "\\.")} is not ready after 1s: .+`),
        );
      } finally {
        await host.start();
      }
      // Destroyed with its VM: the address's key goes with it.
      await handlers.hostready!.delete(made.id, made.outs);
      assert.equal(fs.readFileSync(knownHosts, "utf8").trim(), "");
    } finally {
      if (saved === undefined) delete process.env.ENVCTL_HOME;
      else process.env.ENVCTL_HOME = saved;
      fs.rmSync(readyHome, { recursive: true, force: true });
    }
  });

  it("destroy over SSH leaves nothing on the host", async () => {
    const r = await run(["destroy", name, "--yes"]);
    assert.equal(r.code, 0, said(r));
    assert.deepEqual(dockerLeftovers(name), { containers: [], volumes: [], networks: [] });
  });
});
