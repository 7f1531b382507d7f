/**
 * The hivesync proxy for real: Caddy (Debian's, standing in for caddy:2) in front of the
 * sample backend. A redeploy of a changed backend starts the new container beside the old,
 * waits for its health, switches the proxy, then removes the old one: a request loop through
 * the proxy sees the version change and no failed request. A new container that fails its
 * health check is removed and the old one keeps serving; the deploy says why.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { LABEL_ENV, LABEL_SERVICE } from "../../lib/core/names";
import { assertNoTrace, envctl, said, type Run } from "../support/cli";
import { dockerLeftovers, envName, tempDir } from "../support/env";
import {
  buildCaddyStandin,
  CADDY_STANDIN,
  dotenvFrom,
  makeHivesyncWorkspace,
  writeSpec,
  type HivesyncWorkspace,
} from "../support/hivesync";
import { freePort } from "../support/sshd";

const docker = (...args: string[]): string =>
  execFileSync("docker", args, { encoding: "utf8" }).trim();

const DOMAIN = "hivesync.localhost";

/** GET / through the proxy with the site's Host header: status and body. */
function viaProxy(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        headers: { host: DOMAIN },
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        // Cut off midway: a failed request (an error or a close, never an end).
        res.on("error", (err) => resolve({ status: 0, body: err.message }));
        res.on("close", () => {
          if (!res.complete) resolve({ status: 0, body: "response cut off" });
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ status: 0, body: err.message }));
  });
}

/** Requests one after another until `stop` is called: what each answered. */
function requestLoop(port: number): { stop(): Promise<{ status: number; body: string }[]> } {
  const seen: { status: number; body: string }[] = [];
  let running = true;
  const done = (async () => {
    while (running) seen.push(await viaProxy(port));
  })();
  return {
    async stop() {
      running = false;
      await done;
      return seen;
    },
  };
}

const backends = (env: string): string[] =>
  docker(
    "ps",
    "-a",
    "--filter",
    `label=${LABEL_ENV}=${env}`,
    "--filter",
    `label=${LABEL_SERVICE}=backend`,
    "--format",
    "{{.Names}}",
  )
    .split("\n")
    .filter(Boolean);

describe("the hivesync proxy: zero-downtime redeploys, for real", { timeout: 20 * 60_000 }, () => {
  const root = tempDir("hivesync-proxy");
  const home = path.join(root, "envctl-home");
  const name = envName("hsp");
  let ws: HivesyncWorkspace;
  let httpPort = 0;
  let hivesync: Record<string, unknown> = {};
  const run = async (args: string[]): Promise<Run> => {
    const r = await envctl(args, { home, cwd: ws.repo, timeoutMs: 10 * 60_000 });
    assertNoTrace(r);
    return r;
  };
  const version = async (): Promise<string> =>
    (JSON.parse((await viaProxy(httpPort)).body) as { version: string }).version;

  before(async () => {
    buildCaddyStandin();
    httpPort = await freePort();
    hivesync = {
      proxy: {
        domain: DOMAIN,
        tls: false,
        http_port: httpPort,
        https_port: await freePort(),
        image: CADDY_STANDIN,
      },
    };
    ws = makeHivesyncWorkspace(root, { hivesync });
  });
  after(async () => {
    await envctl(["destroy", name, "--yes", "--force"], { home, cwd: ws.repo }).catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("serves the backend through the proxy; BASE_URL is the site's; the backend publishes nothing", async () => {
    const r = await run(["up", name, "-f", ws.spec, "--yes"]);
    assert.equal(r.code, 0, said(r));
    const res = await viaProxy(httpPort);
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), {
      app: "hivesync",
      version: "1",
      base_url: `http://${DOMAIN}:${httpPort}`,
    });
    const [backend] = backends(name);
    assert.match(backend!, new RegExp(`^envctl-${name}-backend-[0-9a-f]{6}$`));
    assert.equal(docker("port", backend!), "");
    const none = await run(["rollback", name]);
    assert.equal(none.code, 1, said(none));
    assert.match(none.stderr, /env \S+ has no earlier deploy to return to/);
    // logs finds the rolled container by the name the last deploy recorded.
    const logs = await run(["logs", name, "backend"]);
    assert.match(logs.stdout, /hivesync backend 1 listening on 4000/);
  });

  it("a redeploy of a changed backend: new container first, 0 failed requests, then the old one gone", async () => {
    const before = backends(name);
    fs.writeFileSync(path.join(ws.repo, ".env"), `${dotenvFrom()}\nAPP_VERSION=2\n`);
    const loop = requestLoop(httpPort);
    await new Promise((r) => setTimeout(r, 500));
    const r = await run(["up", name, "-f", ws.spec, "--yes"]);
    await new Promise((r) => setTimeout(r, 500));
    const seen = await loop.stop();
    assert.equal(r.code, 0, said(r));
    const failed = seen.filter((s) => s.status !== 200);
    assert.deepEqual(failed, [], `${failed.length} of ${seen.length} requests failed`);
    const versions = seen.map((s) => (JSON.parse(s.body) as { version: string }).version);
    assert.ok(versions.length > 20, String(versions.length));
    assert.equal(versions[0], "1");
    assert.equal(versions.at(-1), "2");
    // Never back: once 2 answers, 1 does not.
    assert.ok(versions.indexOf("2") > 0 && !versions.slice(versions.indexOf("2")).includes("1"));
    const after = backends(name);
    assert.equal(after.length, 1);
    assert.notEqual(after[0], before[0]);
    assert.ok(
      r.stderr.indexOf("ProxyRoute") < r.stderr.lastIndexOf(`Container ${name}-backend: deleted`),
      r.stderr,
    );
  });

  it("a new backend that fails its health check is removed; the old one keeps serving and the deploy says why", async () => {
    const serving = backends(name);
    writeSpec(ws.spec, hivesync, {
      backend: {
        env: { POSTGRES_PORT: "1" },
        health: {
          command:
            "python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health', timeout=2)\"",
          interval: "500ms",
          retries: 4,
        },
      },
    });
    const loop = requestLoop(httpPort);
    const r = await run(["up", name, "-f", ws.spec, "--yes"]);
    const seen = await loop.stop();
    assert.equal(r.code, 1, said(r));
    assert.match(r.stderr, /backend/);
    assert.match(r.stderr, /unhealthy|health/);
    assert.match(r.stderr, /the env is recoverable/);
    assert.deepEqual(
      seen.filter((s) => s.status !== 200),
      [],
    );
    assert.deepEqual(backends(name), serving);
    assert.equal(await version(), "2");
    // Fixed, the next deploy goes through.
    writeSpec(ws.spec, hivesync);
    const ok = await run(["up", name, "-f", ws.spec, "--yes"]);
    assert.equal(ok.code, 0, said(ok));
    assert.equal(await version(), "2");
  });

  it("rollback returns to the deploy before the last one, new-first too; a failed deploy is not one of them", async () => {
    // Deploys so far: 1, 2, a failed one, 2 again: the one before the last is 1.
    const loop = requestLoop(httpPort);
    const r = await run(["rollback", name]);
    const seen = await loop.stop();
    assert.equal(r.code, 0, said(r));
    assert.equal(await version(), "1");
    assert.deepEqual(
      seen.filter((x) => x.status !== 200),
      [],
    );
    // Twice: back to where it was.
    const again = await run(["rollback", name, "--json"]);
    assert.equal(again.code, 0, said(again));
    assert.equal((JSON.parse(again.stdout) as { result: string }).result, "succeeded");
    assert.equal(await version(), "2");
  });

  it("two deploys at once: the second waits with --wait, or fails busy after --wait-timeout", async () => {
    writeSpec(ws.spec, hivesync);
    fs.writeFileSync(path.join(ws.repo, ".env"), `${dotenvFrom()}\nAPP_VERSION=3\n`);
    const first = run(["up", name, "-f", ws.spec, "--yes"]);
    await new Promise((r) => setTimeout(r, 1500));
    const busy = await run(["up", name, "-f", ws.spec, "--yes", "--wait-timeout", "1s"]);
    const waited = run(["up", name, "-f", ws.spec, "--yes", "--wait"]);
    const [a, c] = await Promise.all([first, waited]);
    assert.equal(a.code, 0, said(a));
    assert.equal(busy.code, 1, said(busy));
    assert.match(busy.stderr, /busy/);
    assert.match(busy.stderr, /still busy after --wait-timeout 1s/);
    assert.equal(c.code, 0, said(c));
    assert.match(c.stderr, /no changes/);
    assert.equal(await version(), "3");
  });

  it("destroy leaves no container, volume or network (the proxy's included)", async () => {
    const r = await run(["destroy", name, "--yes"]);
    assert.equal(r.code, 0, said(r));
    assert.deepEqual(dockerLeftovers(name), { containers: [], volumes: [], networks: [] });
  });
});
