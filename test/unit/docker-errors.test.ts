/**
 * Only a failure to connect says "cannot reach the Docker engine": an engine that answers with
 * an error (a fake one on a TCP port, HTTP 500 to everything), a DOCKER_HOST that is not an
 * endpoint, or a file error keep their own words in list/status, doctor and dockerReason.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { status } from "../../cli/commands/status";
import { list } from "../../cli/commands/list";
import { dockerReason, isConnectionFailure } from "../../lib/docker/client";
import { checkDocker, dockerApi } from "../../lib/doctor/checks";
import { DockerTrouble, envctlContainers } from "../../lib/kinds/devenv/reality";
import type { ResolvedEnv } from "../../lib/spec/model";
import { capture, scratchDirs, seedEnv, tempHome } from "../support/env";

const BOOM = "engine exploded: no space left on device";
const scratch = scratchDirs();

/** A "Docker engine" that answers every request with HTTP 500 and Docker's JSON error body. */
let server: http.Server;
let failing = "";
before(async () => {
  server = http.createServer((_req, res) => {
    res.writeHead(500, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ message: BOOM }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  failing = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Runs fn with DOCKER_HOST set (the client cache is per DOCKER_HOST value), then restores it. */
async function withDockerHost<T>(value: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  }
}

const missingSocket = (): string => `unix://${path.join(scratch("nosock"), "docker.sock")}`;

const container = {
  name: "db",
  type: "container",
  cold: false,
  dependsOn: [],
  env: {},
  ports: [],
  volumes: [],
  image: "i",
} as unknown as ResolvedEnv["services"][number];

describe("list and status: a failing engine is not an unreachable one", () => {
  it("an HTTP 500 keeps its reason in envctlContainers, list and status; a missing socket is unreachable", async () => {
    const home = tempHome();
    scratch.track(home.root);
    seedEnv(home, "e1", { services: [container] });
    await withDockerHost(failing, async () => {
      const got = await envctlContainers();
      assert.ok(got instanceof DockerTrouble, `got ${JSON.stringify(got)}`);
      assert.equal(got.reason, `listing containers: ${BOOM}`);

      const st = capture();
      assert.equal(await status({ name: "e1", home, ...st.seams }), 1);
      const said = st.out.join("\n");
      assert.match(said, new RegExp(`Docker: listing containers: ${BOOM}`));
      assert.doesNotMatch(said, /not reachable|unreachable/);

      const ls = capture();
      await list({ home, json: true, ...ls.seams });
      const doc = JSON.parse(ls.out.join("")) as { envs: { warnings: string[] }[] };
      assert.deepEqual(doc.envs[0]!.warnings, [`Docker: listing containers: ${BOOM}`]);
    });

    // The control: no engine at all is what "not reachable" is for.
    const home2 = tempHome();
    scratch.track(home2.root);
    seedEnv(home2, "e2", { services: [container] });
    await withDockerHost(missingSocket(), async () => {
      assert.equal(await envctlContainers(), undefined);
      const st = capture();
      assert.equal(await status({ name: "e2", home: home2, ...st.seams }), 1);
      assert.match(st.out.join("\n"), /Docker is not reachable/);
    });
  });
});

describe("doctor's Docker check", () => {
  it("an engine answering HTTP 500 fails with its reason; only a missing socket is unreachable", async () => {
    const check = await withDockerHost(failing, () => checkDocker(dockerApi()));
    assert.equal(check.ok, false);
    assert.equal(check.detail, `${failing}: the engine answered HTTP 500: ${BOOM}`);
    assert.doesNotMatch(check.fix!, /start it/);
    const where = missingSocket();
    const down = await withDockerHost(where, () => checkDocker(dockerApi()));
    assert.match(
      down.detail,
      new RegExp(`^not reachable at ${where}: cannot reach the Docker engine \\(connect ENOENT`),
    );
    assert.match(down.detail, /is it running\?$/);
    assert.match(down.fix!, /systemctl start docker/);
  });

  it("a DOCKER_HOST that is not an endpoint is named, and doctor itself does not fail", async () => {
    const check = await withDockerHost("not-a-url", () => checkDocker(dockerApi()));
    assert.equal(check.ok, false);
    assert.match(check.detail, /^not-a-url: Docker endpoint "not-a-url" is not a URL/);
    assert.match(check.fix!, /set DOCKER_HOST/);
  });
});

describe("dockerReason", () => {
  it("says 'cannot reach' only for connection failures", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:2375"), {
      code: "ECONNREFUSED",
      syscall: "connect",
    });
    assert.ok(isConnectionFailure(refused));
    assert.match(dockerReason(refused), /^cannot reach the Docker engine .*is it running\?$/);
    const denied = Object.assign(new Error("connect EACCES /var/run/docker.sock"), {
      code: "EACCES",
      syscall: "connect",
    });
    assert.match(dockerReason(denied), /^cannot reach the Docker engine .*docker group/);

    // A file the build context names is missing: not the engine's socket.
    let noFile: unknown;
    try {
      fs.statSync(path.join(scratch("ctx"), "missing"));
    } catch (err) {
      noFile = err;
    }
    assert.equal(isConnectionFailure(noFile), false);
    assert.match(dockerReason(noFile), /^ENOENT: no such file or directory, stat /);
    const http500 = Object.assign(new Error("(HTTP code 500) server error - boom"), {
      statusCode: 500,
      code: "ENOENT", // whatever else it carries, an HTTP answer means the engine was reached
      json: { message: "boom" },
    });
    assert.equal(isConnectionFailure(http500), false);
    assert.equal(dockerReason(http500), "boom");
  });
});
