/**
 * A Docker client per engine endpoint (lib/docker/client.ts): endpoint URLs map to dockerode
 * options, and a resource's `dockerHost` input sends its calls to that engine and no other.
 * A small HTTP server stands in for a remote engine's API (tcp://), recording what it is asked.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  clientOptions,
  docker,
  DockerError,
  engineOf,
  publishedAddress,
} from "../../lib/docker/client";
import { handlers } from "../../lib/providers";

import { createHmac } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { forgetHostKey, sshOptions, verifyHostKey } from "../../lib/docker/ssh-auth";
import { dockerEndpoint, parseTarget } from "../../lib/kinds/hivesync/target";
describe("Docker endpoints", () => {
  it("maps unix, tcp, https and ssh URLs to dockerode options", () => {
    assert.deepEqual(clientOptions("unix:///run/user/1000/docker.sock"), {
      socketPath: "/run/user/1000/docker.sock",
    });
    assert.deepEqual(clientOptions("tcp://10.0.1.5:2375"), {
      protocol: "http",
      host: "10.0.1.5",
      port: 2375,
    });
    assert.deepEqual(clientOptions("https://docker.example:2376"), {
      protocol: "https",
      host: "docker.example",
      port: 2376,
    });
    const ssh = clientOptions("ssh://deploy@203.0.113.7:2222");
    assert.equal(ssh.protocol, "ssh");
    assert.equal(ssh.host, "203.0.113.7");
    assert.equal(ssh.port, 2222);
    assert.equal(ssh.username, "deploy");
    assert.equal(clientOptions("ssh://box").port, 22);
  });

  it("an unset endpoint is the local engine: DOCKER_HOST as docker-modem reads it, else the socket", () => {
    const saved = process.env.DOCKER_HOST;
    try {
      delete process.env.DOCKER_HOST;
      assert.deepEqual(clientOptions(undefined), { socketPath: "/var/run/docker.sock" });
      // DOCKER_HOST (and its TLS companions) is docker-modem's to read, as the docker CLI does.
      process.env.DOCKER_HOST = "tcp://127.0.0.1:2399";
      assert.deepEqual(clientOptions(undefined), {});
      assert.equal(
        (docker(undefined).modem as unknown as { port?: number | string }).port?.toString(),
        "2399",
      );
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it("rejects what is not an endpoint, naming it", () => {
    assert.throws(() => clientOptions("docker.example:2375"), DockerError);
    assert.throws(() => clientOptions("ftp://x"), /ftp: is not one of unix:, tcp:, ssh:/);
  });

  it("one client per endpoint; published ports are reached on the endpoint's host", () => {
    assert.equal(docker("tcp://10.9.9.9:2375"), docker("tcp://10.9.9.9:2375"));
    assert.notEqual(docker("tcp://10.9.9.9:2375"), docker("tcp://10.9.9.8:2375"));
    assert.equal(publishedAddress("ssh://deploy@203.0.113.7"), "203.0.113.7");
    assert.equal(publishedAddress("unix:///var/run/docker.sock"), "127.0.0.1");
  });
});

describe("a resource's dockerHost input picks the engine", () => {
  const seen: string[] = [];
  let server: http.Server;
  let endpoint = "";
  before(async () => {
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url?.split("?")[0]}`);
      req.resume();
      res.setHeader("content-type", "application/json");
      if (req.method === "GET" && req.url?.startsWith("/networks/")) {
        res.statusCode = 404;
        return res.end(JSON.stringify({ message: "network not found" }));
      }
      if (req.method === "POST" && req.url?.startsWith("/networks/create")) {
        res.statusCode = 201;
        return res.end(JSON.stringify({ Id: "net-on-remote" }));
      }
      res.statusCode = 500;
      res.end(JSON.stringify({ message: "unexpected" }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it("creates the network on the endpoint's engine, and records the endpoint", async () => {
    const res = await handlers.network!.create({
      name: "envctl-remote",
      labels: { "envctl.env": "remote" },
      dockerHost: endpoint,
    });
    assert.equal(res.id, "net-on-remote");
    assert.equal(res.outs.dockerHost, endpoint);
    assert.deepEqual(seen, ["GET /networks/envctl-remote", "POST /networks/create"]);
  });

  it("moving a resource to another engine replaces it; no endpoint on either side is no change", async () => {
    const olds = { name: "n", labels: {} };
    const moved = await handlers.network!.diff("id", olds, { ...olds, dockerHost: endpoint });
    assert.deepEqual(moved.replaces, ["dockerHost"]);
    const same = await handlers.network!.diff("id", olds, { ...olds });
    assert.equal(same.changes, false);
  });

  it("the same SSH host with another machine's key file is the same engine: nothing is replaced", async () => {
    const at = (host: string, key: string): string =>
      `ssh://root@${host}:22?identity=${encodeURIComponent(key)}`;
    const here = at("203.0.113.10", "/home/ops/app/keys/deploy");
    const ci = at("203.0.113.10", "/home/runner/work/app/app/keys/deploy");
    const net = { name: "n", labels: {}, dockerHost: here };
    assert.equal(
      (await handlers.network!.diff("id", net, { ...net, dockerHost: ci })).changes,
      false,
    );
    const moved = await handlers.network!.diff("id", net, {
      ...net,
      dockerHost: at("198.51.100.1", "/k"),
    });
    assert.deepEqual(moved.replaces, ["dockerHost"]);
    const step = { container: "c", run: "alembic upgrade head", trigger: "t", dockerHost: here };
    assert.equal(
      (await handlers.deploystep!.diff("id", step, { ...step, dockerHost: ci })).changes,
      false,
    );
    const route = {
      container: "c",
      upstream: "backend",
      port: 4000,
      domain: "a.example",
      dockerHost: here,
    };
    assert.equal(
      (await handlers.proxyroute!.diff("id", route, { ...route, dockerHost: ci })).changes,
      false,
    );
    assert.equal(engineOf(ci), "ssh://root@203.0.113.10:22");
    assert.equal(engineOf("unix:///var/run/docker.sock"), "unix:///var/run/docker.sock");
  });
});

describe("an ssh:// engine's login (lib/docker/ssh-auth.ts)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-known-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // An SSH wire-format key blob: string "ssh-ed25519", then 32 key bytes.
  const blob = (fill: number): Buffer => {
    const type = Buffer.from("ssh-ed25519");
    const head = Buffer.alloc(4);
    head.writeUInt32BE(type.length);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(32);
    return Buffer.concat([head, type, len, Buffer.alloc(32, fill)]);
  };

  it("remembers a new host's key, accepts it again, refuses a changed one", () => {
    const file = path.join(dir, "known_hosts");
    assert.equal(verifyHostKey(file, "10.0.0.5", 22, blob(1)), true);
    assert.equal(
      fs.readFileSync(file, "utf8"),
      `10.0.0.5 ssh-ed25519 ${blob(1).toString("base64")}\n`,
    );
    assert.equal(verifyHostKey(file, "10.0.0.5", 22, blob(1)), true);
    assert.equal(verifyHostKey(file, "10.0.0.5", 22, blob(2)), false);
    assert.equal(
      verifyHostKey(file, "10.0.0.5", 2222, blob(2)),
      true,
      "another port is another host",
    );
    assert.match(fs.readFileSync(file, "utf8"), /^\[10\.0\.0\.5\]:2222 ssh-ed25519 /m);
  });

  it("reads OpenSSH's hashed entries", () => {
    const file = path.join(dir, "hashed");
    const salt = Buffer.alloc(20, 7);
    const hash = createHmac("sha1", salt).update("[box.example]:2200").digest("base64");
    fs.writeFileSync(
      file,
      `|1|${salt.toString("base64")}|${hash} ssh-ed25519 ${blob(3).toString("base64")}\n`,
    );
    assert.equal(verifyHostKey(file, "box.example", 2200, blob(3)), true);
    assert.equal(verifyHostKey(file, "box.example", 2200, blob(4)), false);
  });

  it("forgets a host's keys (plain and hashed entries) and nobody else's, then takes a new key", () => {
    const file = path.join(dir, "forget");
    const salt = Buffer.alloc(20, 9);
    const hash = createHmac("sha1", salt).update("203.0.113.10").digest("base64");
    fs.writeFileSync(
      file,
      [
        `# envctl`,
        `203.0.113.10 ssh-ed25519 ${blob(5).toString("base64")}`,
        `|1|${salt.toString("base64")}|${hash} ssh-ed25519 ${blob(6).toString("base64")}`,
        `[203.0.113.10]:2222 ssh-ed25519 ${blob(7).toString("base64")}`,
        `10.0.0.5 ssh-ed25519 ${blob(8).toString("base64")}`,
        `box.example,203.0.113.10 ssh-ed25519 ${blob(10).toString("base64")}`,
        ``,
      ].join("\n"),
    );
    // A VM that got the address of another machine: its key is refused until forgotten.
    assert.equal(verifyHostKey(file, "203.0.113.10", 22, blob(9)), false);
    assert.equal(forgetHostKey(file, "203.0.113.10", 22), 3);
    const left = fs.readFileSync(file, "utf8");
    assert.match(left, /^# envctl$/m);
    assert.match(left, /^\[203\.0\.113\.10\]:2222 /m, "another port is another host");
    assert.match(left, /^10\.0\.0\.5 /m);
    // A line naming another host too keeps it for that host, with its key.
    assert.match(
      left,
      new RegExp(
        `^box\\.example ssh-ed25519 ${blob(10).toString("base64").replace(/[+/]/g, "\\$&")}$`,
        "m",
      ),
    );
    assert.equal(verifyHostKey(file, "203.0.113.10", 22, blob(9)), true);
    assert.equal(forgetHostKey(path.join(dir, "none"), "203.0.113.10", 22), 0);
  });

  it("takes ENVCTL_SSH_KEY when the endpoint's key file is not on this machine", () => {
    const key = path.join(dir, "ci_key");
    fs.writeFileSync(key, "CI KEY BYTES");
    const o = sshOptions(new URL("ssh://root@203.0.113.7:22?identity=%2Fnot%2Fhere%2Fkey"), {
      ENVCTL_SSH_KEY: key,
      ENVCTL_HOME: dir,
    }) as { privateKey: Buffer };
    assert.equal(o.privateKey.toString(), "CI KEY BYTES");
    // Both there (the path holds another key here): each is tried, the endpoint's first.
    const mine = path.join(dir, "my_key");
    fs.writeFileSync(mine, "MY KEY BYTES");
    const both = sshOptions(
      new URL(`ssh://deploy@203.0.113.7:22?identity=${encodeURIComponent(mine)}`),
      { ENVCTL_SSH_KEY: key, ENVCTL_HOME: dir, SSH_AUTH_SOCK: "/run/agent.sock" },
    ) as {
      authHandler: { type: string; username: string; key?: Buffer; agent?: string }[];
      privateKey?: unknown;
      agent?: unknown;
    };
    // The list alone: a key ssh2 cannot parse up front must not stop the others being tried.
    assert.equal(both.privateKey, undefined);
    assert.equal(both.agent, undefined);
    assert.deepEqual(
      both.authHandler.map((a) => [a.type, a.username, a.key?.toString() ?? a.agent]),
      [
        ["publickey", "deploy", "MY KEY BYTES"],
        ["publickey", "deploy", "CI KEY BYTES"],
        ["agent", "deploy", "/run/agent.sock"],
      ],
    );
  });

  it("logs in with the endpoint's identity file and checks the host key", () => {
    const key = path.join(dir, "id");
    fs.writeFileSync(key, "PRIVATE KEY BYTES");
    const o = clientOptions(
      `ssh://deploy@203.0.113.7:2222?identity=${encodeURIComponent(key)}`,
    ) as {
      sshOptions: { privateKey: Buffer; hostVerifier: unknown };
    };
    assert.equal(o.sshOptions.privateKey.toString(), "PRIVATE KEY BYTES");
    assert.equal(typeof o.sshOptions.hostVerifier, "function");
  });

  it("parses a target as user@host[:port] (root, 22 by default), or a catalog host by id", () => {
    assert.deepEqual(parseTarget("deploy@10.1.2.3:2201"), {
      user: "deploy",
      host: "10.1.2.3",
      port: 2201,
    });
    assert.deepEqual(parseTarget("vm.example"), { user: "root", host: "vm.example", port: 22 });
    const box = { id: "gpu-box", sshHost: "10.9.9.9", sshPort: 2022, sshUser: "ops" };
    assert.deepEqual(
      parseTarget("gpu-box", (id) => (id === "gpu-box" ? box : undefined)),
      {
        user: "ops",
        host: "10.9.9.9",
        port: 2022,
        hostId: "gpu-box",
      },
    );
    assert.equal(
      dockerEndpoint({ user: "root", host: "10.1.2.3", port: 22 }, "/keys/deploy key"),
      "ssh://root@10.1.2.3:22?identity=%2Fkeys%2Fdeploy%20key",
    );
  });
});
