/**
 * lib/docker/socket.ts against a stand-in engine: an HTTP server on a unix socket in a temp
 * dir, answering as Docker's API does (the real engine is exercised by every e2e `list`).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { dockerFailure, isConnectionFailure } from "../../lib/docker/client";
import { listContainers, localSocket, removeContainerNow } from "../../lib/docker/socket";
import { tempDir } from "../support/env";

describe("listing containers over the local socket", () => {
  const dir = tempDir("sock");
  const socket = path.join(dir, "docker.sock");
  const seen: string[] = [];
  const calls: string[] = [];
  let answer: { status: number; body: string } = { status: 200, body: "[]" };
  /** Answers by method, over `answer`. */
  let byMethod: Record<string, { status: number; body: string }> = {};
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? "");
    calls.push(`${req.method} ${req.url}`);
    const a = byMethod[req.method ?? ""] ?? answer;
    res.writeHead(a.status, { "content-type": "application/json" });
    res.end(a.body);
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

  describe("removing a container at once (cool's early removals)", () => {
    it("a stop first when asked (the container's own signal and timeout), then a forced delete", async () => {
      byMethod = { POST: { status: 204, body: "" }, DELETE: { status: 204, body: "" } };
      calls.length = 0;
      await removeContainerNow(socket, "envctl-a-Web_App", true);
      assert.deepEqual(calls, [
        "POST /containers/envctl-a-Web_App/stop",
        "DELETE /containers/envctl-a-Web_App?force=1&v=1",
      ]);
      calls.length = 0;
      await removeContainerNow(socket, "envctl-a-db", false);
      assert.deepEqual(calls, ["DELETE /containers/envctl-a-db?force=1&v=1"]);
    });

    it("says what it found: removed, gone already, or being removed by another caller", async () => {
      byMethod = { POST: { status: 304, body: "" }, DELETE: { status: 204, body: "" } };
      assert.equal(await removeContainerNow(socket, "x", true), "removed");
      byMethod = {
        DELETE: {
          status: 409,
          body: JSON.stringify({ message: "removal of container x is already in progress" }),
        },
      };
      assert.equal(await removeContainerNow(socket, "x", false), "in progress");
      byMethod = {
        POST: { status: 404, body: JSON.stringify({ message: "No such container: x" }) },
        DELETE: { status: 404, body: JSON.stringify({ message: "No such container: x" }) },
      };
      assert.equal(await removeContainerNow(socket, "x", true), "gone");
    });

    it("another conflict is an error", async () => {
      byMethod = {
        DELETE: { status: 409, body: JSON.stringify({ message: "container is paused" }) },
      };
      const err = await removeContainerNow(socket, "x", false).catch((e: unknown) => e);
      assert.equal((err as { statusCode?: number }).statusCode, 409);
      assert.equal(
        dockerFailure("removing container x", err).message,
        "removing container x: container is paused",
      );
    });

    it("an engine error rejects with its words", async () => {
      byMethod = { DELETE: { status: 500, body: JSON.stringify({ message: "device busy" }) } };
      const err = await removeContainerNow(socket, "x", false).catch((e: unknown) => e);
      assert.equal((err as { statusCode?: number }).statusCode, 500);
      assert.match(String(err), /device busy/);
      byMethod = {};
    });
  });
});
