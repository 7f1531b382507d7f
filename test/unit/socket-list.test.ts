/**
 * lib/docker/socket-list.ts against a stand-in engine: an HTTP server on a unix socket in a temp
 * dir, answering as Docker's API does (the real engine is exercised by every e2e `list`).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { dockerFailure, isConnectionFailure } from "../../lib/docker/client";
import { listContainers, localSocket } from "../../lib/docker/socket-list";
import { tempDir } from "../support/env";

describe("listing containers over the local socket", () => {
  const dir = tempDir("sock");
  const socket = path.join(dir, "docker.sock");
  const seen: string[] = [];
  let answer: { status: number; body: string } = { status: 200, body: "[]" };
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? "");
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(answer.body);
  });
  before(() => new Promise<void>((resolve) => server.listen(socket, resolve)));
  after(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("asks for every container with the filters, and returns the engine's list", async () => {
    const list = [
      {
        Id: "abc",
        State: "running",
        Status: "Up 2 seconds (healthy)",
        Labels: { "envctl.env": "a" },
      },
    ];
    answer = { status: 200, body: JSON.stringify(list) };
    assert.deepEqual(await listContainers(socket, { label: ["envctl.env"] }), list);
    const url = new URL(seen.at(-1)!, "http://x");
    assert.equal(url.pathname, "/containers/json");
    assert.equal(url.searchParams.get("all"), "1");
    assert.deepEqual(JSON.parse(url.searchParams.get("filters")!), { label: ["envctl.env"] });
  });

  it("an engine error carries its status and words, as dockerode's does", async () => {
    answer = { status: 500, body: JSON.stringify({ message: "layer store is broken" }) };
    const err = await listContainers(socket, {}).catch((e: unknown) => e);
    assert.equal((err as { statusCode?: number }).statusCode, 500);
    assert.equal(isConnectionFailure(err), false);
    assert.equal(
      dockerFailure("listing containers", err).message,
      "listing containers: layer store is broken",
    );
  });

  it("no socket is a connection failure (the engine is not running)", async () => {
    const err = await listContainers(path.join(dir, "missing.sock"), {}).catch((e: unknown) => e);
    assert.equal(isConnectionFailure(err), true);
  });

  it("the local socket: unset DOCKER_HOST or unix://; any other endpoint is dockerode's", () => {
    assert.equal(localSocket({}), "/var/run/docker.sock");
    assert.equal(
      localSocket({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" }),
      "/run/user/1000/docker.sock",
    );
    assert.equal(localSocket({ DOCKER_HOST: "tcp://10.0.0.2:2375" }), undefined);
    assert.equal(localSocket({ DOCKER_HOST: "ssh://me@box" }), undefined);
  });
});
