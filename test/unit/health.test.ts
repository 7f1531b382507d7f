import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import {
  HealthTimeoutError,
  probeHttp,
  probeTcp,
  sleep,
  waitUntil,
} from "../../lib/runtime/probes";
import { demuxLogs } from "../../lib/docker/index";

const fast = { intervalMs: 5, timeoutMs: 1_000, retries: 3, startPeriodMs: 0 };

describe("waitUntil", () => {
  it("resolves on the first passing check and reports attempts", async () => {
    let calls = 0;
    const r = await waitUntil(async () => ++calls >= 3, { ...fast, retries: 10 });
    assert.equal(r.attempts, 3);
    assert.equal(calls, 3);
    assert.ok(r.elapsedMs >= 0);
  });

  it("throws HealthTimeoutError after `retries` failures, with the last detail", async () => {
    let calls = 0;
    const err = await waitUntil(async () => ({ ok: false, detail: `boom ${++calls}` }), fast).then(
      () => assert.fail("expected a timeout"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HealthTimeoutError);
    assert.equal(calls, 3);
    assert.equal(err.attempts, 3);
    assert.equal(err.lastError, "boom 3");
    assert.match(err.message, /after 3 checks.*boom 3/);
  });

  it("treats retries below 1 as 1", async () => {
    let calls = 0;
    await assert.rejects(
      waitUntil(async () => (calls++, false), { ...fast, retries: 0 }),
      HealthTimeoutError,
    );
    assert.equal(calls, 1);
  });

  it("does not count failures inside the start period", async () => {
    let calls = 0;
    const started = Date.now();
    const err = await waitUntil(async () => (calls++, false), {
      ...fast,
      intervalMs: 10,
      retries: 2,
      startPeriodMs: 100,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof HealthTimeoutError);
    // Every check started in the first 100ms is free, then two counted failures.
    assert.ok(Date.now() - started >= 100);
    assert.ok(calls >= 4, `expected start-period checks plus 2, got ${calls}`);
  });

  it("succeeds when a check passes after the start period began failing", async () => {
    let calls = 0;
    const r = await waitUntil(async () => ++calls > 5, {
      ...fast,
      retries: 1,
      startPeriodMs: 10_000,
    });
    assert.equal(r.attempts, 6);
  });

  it("counts a check that outlives timeoutMs as a failure", async () => {
    const err = await waitUntil(() => sleep(200).then(() => true), {
      ...fast,
      timeoutMs: 20,
      retries: 2,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof HealthTimeoutError);
    assert.match(err.message, /timed out after 20ms/);
  });

  it("rejects promptly with the abort reason", async () => {
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(new Error("user pressed ctrl-c")), 50);
    await assert.rejects(
      waitUntil(async () => false, { ...fast, intervalMs: 10_000, retries: 5, signal: ac.signal }),
      /user pressed ctrl-c/,
    );
    assert.ok(Date.now() - started < 1_000);
  });

  it("rejects without checking when already aborted", async () => {
    let calls = 0;
    await assert.rejects(
      waitUntil(async () => (calls++, true), { ...fast, signal: AbortSignal.abort() }),
      { name: "AbortError" },
    );
    assert.equal(calls, 0);
  });

  it("ends the wait when a check throws", async () => {
    await assert.rejects(
      waitUntil(
        async () => {
          throw new Error("container exited");
        },
        { ...fast, retries: 10 },
      ),
      /container exited/,
    );
  });
});

describe("probes", () => {
  let server: http.Server;
  let httpPort: number;
  let dropper: net.Server;
  let dropPort: number;
  let closedPort: number;

  before(async () => {
    server = http.createServer((req, res) => {
      const status = req.url === "/fail" ? 500 : req.url === "/moved" ? 302 : 200;
      if (req.url === "/slow") {
        setTimeout(() => res.end("late"), 500);
        return;
      }
      res.writeHead(status, status === 302 ? { location: "/" } : {});
      res.end("hi");
    });
    httpPort = await listen(server);
    // Accepts and hangs up at once, like docker-proxy with nothing behind it.
    dropper = net.createServer((s) => s.destroy());
    dropPort = await listen(dropper);
    const tmp = net.createServer();
    closedPort = await listen(tmp);
    await new Promise((r) => tmp.close(r));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await new Promise((r) => dropper.close(r));
  });

  it("probeHttp: 200 and 3xx are ok", async () => {
    assert.deepEqual(await probeHttp(`http://127.0.0.1:${httpPort}/`, 1_000), {
      ok: true,
      status: 200,
    });
    assert.equal((await probeHttp(`http://127.0.0.1:${httpPort}/moved`, 1_000)).ok, true);
  });

  it("probeHttp: 500 is not ok and says so", async () => {
    const r = await probeHttp(`http://127.0.0.1:${httpPort}/fail`, 1_000);
    assert.equal(r.ok, false);
    assert.equal(r.status, 500);
    assert.match(r.error ?? "", /HTTP 500/);
  });

  it("probeHttp: closed port reports the connection error", async () => {
    const r = await probeHttp(`http://127.0.0.1:${closedPort}/`, 1_000);
    assert.equal(r.ok, false);
    assert.equal(r.status, undefined);
    assert.match(r.error ?? "", /ECONNREFUSED/);
  });

  it("probeHttp: slow server times out", async () => {
    const r = await probeHttp(`http://127.0.0.1:${httpPort}/slow`, 50);
    assert.equal(r.ok, false);
    assert.match(r.error ?? "", /timed out after 50ms/);
  });

  it("probeHttp: a bad URL is a failure, not a throw", async () => {
    const r = await probeHttp("not a url", 100);
    assert.equal(r.ok, false);
    assert.ok(r.error);
  });

  it("probeTcp: listening, closed, and accept-then-drop ports", async () => {
    assert.equal(await probeTcp("127.0.0.1", httpPort, 1_000), true);
    assert.equal(await probeTcp("127.0.0.1", closedPort, 1_000), false);
    assert.equal(await probeTcp("127.0.0.1", dropPort, 1_000), false);
  });
});

describe("demuxLogs", () => {
  const frame = (type: number, text: string): Buffer => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = type;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };

  it("joins stdout and stderr frames in order", () => {
    const buf = Buffer.concat([frame(1, "out 1\n"), frame(2, "err 1\n"), frame(1, "out 2\n")]);
    assert.equal(demuxLogs(buf), "out 1\nerr 1\nout 2\n");
  });

  it("passes TTY (unframed) output through", () => {
    assert.equal(demuxLogs(Buffer.from("plain text\n")), "plain text\n");
    assert.equal(demuxLogs(Buffer.alloc(0)), "");
  });
});

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}
