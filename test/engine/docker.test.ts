/**
 * Real-engine tests for lib/docker. Everything created carries a label unique to this run; the
 * last test and the `after` hook prove (via the API and the docker CLI) that nothing leaked.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  ContainerRunError,
  buildImage,
  ensureNetwork,
  ensureVolume,
  imageId,
  inspectContainer,
  listByLabel,
  removeContainer,
  removeImage,
  removeLabelled,
  removeNetwork,
  removeVolume,
  runContainer,
  type ContainerSpec,
} from "../../lib/docker/index";
import type { HealthCheck } from "../../lib/spec/model";
import { envLabels, LABEL_ENV } from "../../lib/core/names";
import { probeHttp } from "../../lib/runtime/probes";
import { cli, cleanupByLabel, dockerAvailable, freePort, leftovers } from "./docker-helpers";

const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const KEY = "envctl.test.run";
const labels = { [KEY]: RUN };
const n = (suffix: string): string => `envctl-test-${RUN}-${suffix}`;
const NET = n("net");
const HTTPD = "envctl-test-httpd:1"; // kept between runs so the build is a cache hit
const FIXTURES = path.join(__dirname, "..", "fixtures");

function spec(suffix: string, over: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: n(suffix),
    image: "debian:bookworm",
    env: {},
    ports: [],
    volumes: [],
    network: NET,
    aliases: [],
    labels,
    ...over,
  };
}

function health(h: Partial<HealthCheck> & Pick<HealthCheck, "kind">): HealthCheck {
  return { intervalMs: 200, timeoutMs: 2_000, retries: 25, startPeriodMs: 0, ...h };
}

const SLEEP_FOREVER = ["sh", "-c", "exec sleep infinity"];

describe("lib/docker against the engine", { skip: !dockerAvailable(), timeout: 300_000 }, () => {
  let tmp: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-docker-"));
    await buildImage({
      context: path.join(FIXTURES, "docker-httpd"),
      dockerfile: "Dockerfile",
      args: {},
      tag: HTTPD,
      labels: { "envctl.test": "fixture" },
    });
    const first = await ensureNetwork(NET, labels);
    const again = await ensureNetwork(NET, labels);
    assert.equal(again.id, first.id, "ensureNetwork reuses the existing network");
  });

  after(async () => {
    await cleanupByLabel(KEY, RUN);
    await removeImage(n("ignored")).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("http health: resolves once the server answers on the published port", async () => {
    const port = await freePort();
    const web = spec("web", {
      image: HTTPD,
      ports: [{ container: 8080, host: port, protocol: "tcp" }],
      health: health({ kind: "http", port: 8080, path: "/index.html" }),
    });
    const { id } = await runContainer(web);
    const res = await probeHttp(`http://127.0.0.1:${port}/`, 2_000);
    assert.equal(res.status, 200);
    const info = await inspectContainer(web.name);
    assert.equal(info?.id, id);
    assert.equal(info?.running, true);
    assert.equal(info?.image, HTTPD);
    assert.equal(info?.labels[KEY], RUN);

    // A second create of the same (owned) name replaces the leftover instead of failing.
    const { id: id2 } = await runContainer(web);
    assert.notEqual(id2, id);
    assert.equal((await probeHttp(`http://127.0.0.1:${port}/`, 2_000)).status, 200);
    await removeContainer(web.name);
    assert.equal(await inspectContainer(web.name), undefined);
  });

  it("tcp health: sees through docker-proxy when nothing listens inside", async () => {
    const port = await freePort();
    const idle = spec("idle", {
      command: SLEEP_FOREVER,
      ports: [{ container: 9999, host: port, protocol: "tcp" }],
      health: health({ kind: "tcp", port: 9999, intervalMs: 100, timeoutMs: 500, retries: 3 }),
    });
    const err = await runContainer(idle).catch((e: unknown) => e);
    assert.ok(err instanceof ContainerRunError, String(err));
    assert.match(err.message, new RegExp(`container ${idle.name} did not become healthy`));
    await removeContainer(idle.name);

    const port2 = await freePort();
    const web = spec("tcp-web", {
      image: HTTPD,
      ports: [{ container: 8080, host: port2, protocol: "tcp" }],
      health: health({ kind: "tcp", port: 8080 }),
    });
    await runContainer(web);
    await removeContainer(web.name);
  });

  it("command health: resolves only after the HEALTHCHECK passes", async () => {
    const ready = spec("ready", {
      command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep infinity"],
      health: health({ kind: "command", command: "test -f /tmp/ready", intervalMs: 250 }),
    });
    const started = Date.now();
    await runContainer(ready);
    assert.ok(Date.now() - started >= 1_900, "resolved before the sleep was over");
    assert.equal((await inspectContainer(ready.name))?.health, "healthy");
    assert.equal(spawnSync("docker", ["exec", ready.name, "test", "-f", "/tmp/ready"]).status, 0);
    await removeContainer(ready.name);
  });

  it("command health: unhealthy throws with the log tail and leaves the container", async () => {
    const sick = spec("sick", {
      command: ["sh", "-c", "echo hello from sick; exec sleep infinity"],
      health: health({ kind: "command", command: "echo probe says no; false", retries: 2 }),
    });
    const err = await runContainer(sick).catch((e: unknown) => e);
    assert.ok(err instanceof ContainerRunError, String(err));
    assert.match(err.message, new RegExp(`container ${sick.name} is unhealthy`));
    assert.match(err.message, /probe says no/);
    assert.match(err.message, /hello from sick/);
    assert.ok(await inspectContainer(sick.name), "left in place for the caller");
    await removeContainer(sick.name);
  });

  it("a command that exits 1 throws with the log tail (stdout and stderr)", async () => {
    const crash = spec("crash", {
      command: ["sh", "-c", "echo starting up; echo 'fatal: config missing' >&2; exit 1"],
    });
    const err = await runContainer(crash).catch((e: unknown) => e);
    assert.ok(err instanceof ContainerRunError, String(err));
    assert.match(err.message, new RegExp(`container ${crash.name} exited with code 1`));
    assert.match(err.message, /starting up/);
    assert.match(err.message, /fatal: config missing/);
    assert.doesNotMatch(err.message, /\u0001|\u0002|\u0000/, "log frames are demultiplexed");
    assert.equal(err.container, crash.name);
    await removeContainer(crash.name);

    // Exiting while an http probe waits fails fast instead of spending the retries.
    const port = await freePort();
    const quitter = spec("quitter", {
      image: HTTPD,
      command: ["sh", "-c", "echo bye; exit 3"],
      ports: [{ container: 8080, host: port, protocol: "tcp" }],
      health: health({ kind: "http", port: 8080, retries: 1_000 }), // >200s if retries ran out
    });
    const started = Date.now();
    await assert.rejects(runContainer(quitter), /exited with code 3[^]*bye/);
    assert.ok(Date.now() - started < 60_000);
    await removeContainer(quitter.name);
  });

  it("a start failure (host port taken) names the container and the reason", async () => {
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, "0.0.0.0", resolve));
    try {
      const clash = spec("clash", {
        command: SLEEP_FOREVER,
        ports: [{ container: 80, host: port, protocol: "tcp" }],
      });
      await assert.rejects(
        runContainer(clash),
        new RegExp(`starting container ${clash.name} failed: .*${port}.*(in use|allocated)`),
      );
      assert.ok(await inspectContainer(clash.name), "left in place for the caller");
      await removeContainer(clash.name);
    } finally {
      blocker.close();
    }
  });

  it("aborting the wait rejects and leaves the container", async () => {
    const slow = spec("slow", {
      command: SLEEP_FOREVER,
      health: health({ kind: "command", command: "false", intervalMs: 5_000, retries: 3 }),
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("interrupted")), 300);
    await assert.rejects(runContainer(slow, { signal: ac.signal }), /interrupted/);
    assert.ok(await inspectContainer(slow.name));
    await removeContainer(slow.name);
  });

  it("refuses to replace a same-named container it does not own", async () => {
    cli("create", "--name", n("foreign"), "--label", `${KEY}=${RUN}`, "debian:bookworm", "true");
    const mine = spec("foreign", { labels: { ...labels, "envctl.test.owner": "me" } });
    await assert.rejects(runContainer(mine), /is taken by a container envctl does not manage/);
    assert.ok(await inspectContainer(n("foreign")), "the foreign container is untouched");
    await removeContainer(n("foreign"));
  });

  it("network aliases: a second container reaches the first by alias", async () => {
    const web = spec("alias-web", { image: HTTPD, aliases: ["web-alias"] });
    await runContainer(web);
    const client = spec("alias-client", {
      image: HTTPD,
      command: [
        "sh",
        "-c",
        "until busybox wget -qO /tmp/got http://web-alias:8080/; do sleep 0.2; done; exec sleep infinity",
      ],
      health: health({ kind: "command", command: "grep -q 'envctl ok' /tmp/got" }),
    });
    await runContainer(client);
    assert.equal(cli("exec", client.name, "cat", "/tmp/got"), "envctl ok");
    await assert.rejects(
      removeNetwork(NET),
      new RegExp(`removing network ${NET}: .*active endpoints`),
    );
    await removeContainer(client.name);
    await removeContainer(web.name);
  });

  it("removeNetwork first removes containers of its own env left outside state, never anyone else's", async () => {
    const net = n("orphans");
    const env = `orphan-${RUN}`;
    cli("network", "create", "--label", `envctl.env=${env}`, "--label", `${KEY}=${RUN}`, net);
    const run = (suffix: string, envLabel: string, name = n(suffix)): void =>
      void cli(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        net,
        "--label",
        `envctl.env=${envLabel}`,
        "--label",
        `${KEY}=${RUN}`,
        "debian:bookworm",
        "sleep",
        "infinity",
      );
    run("orphan", env);
    run("stranger", `${env}-other`);
    // The env's label but not an envctl name: run by hand from the env's image.
    const hand = `hand-run-net-${RUN}`;
    run("hand", env, hand);
    await assert.rejects(
      removeNetwork(net),
      new RegExp(`removing network ${net}: .*active endpoints`),
    );
    assert.equal(await inspectContainer(n("orphan")), undefined, "the env's orphan went first");
    assert.ok(await inspectContainer(n("stranger")), "another env's container is untouched");
    assert.ok(await inspectContainer(hand), "a hand-run container of the env is untouched");
    await removeContainer(n("stranger"));
    await removeContainer(hand);
    await removeNetwork(net);
    assert.equal(cli("network", "ls", "-q", "--filter", `name=^${net}$`), "");
  });

  it("volumes persist across re-creation; removeVolume removes them", async () => {
    const vol = n("data");
    const auto = n("auto");
    await ensureVolume(vol, labels);
    await ensureVolume(vol, labels); // idempotent
    const hostDir = path.join(tmp, "bind");
    fs.mkdirSync(hostDir);
    fs.writeFileSync(path.join(hostDir, "from-host.txt"), "hi from host\n");
    const mounts: ContainerSpec["volumes"] = [
      { source: vol, target: "/data", readOnly: false, kind: "volume" },
      { source: auto, target: "/auto", readOnly: false, kind: "volume" },
      { source: hostDir, target: "/host", readOnly: true, kind: "bind" },
    ];
    const writer = spec("writer", {
      command: ["sh", "-c", `echo kept-${RUN} > /data/f; exec sleep infinity`],
      volumes: mounts,
      health: health({ kind: "command", command: "test -s /data/f" }),
    });
    await runContainer(writer);
    assert.equal(cli("exec", writer.name, "cat", "/host/from-host.txt"), "hi from host");
    assert.notEqual(spawnSync("docker", ["exec", writer.name, "touch", "/host/x"]).status, 0);
    assert.deepEqual((await listByLabel(KEY, RUN)).volumes.sort(), [auto, vol].sort());
    await assert.rejects(removeVolume(vol), new RegExp(`removing volume ${vol}: .*in use`));
    await removeContainer(writer.name);

    const reader = spec("reader", { command: SLEEP_FOREVER, volumes: mounts });
    await runContainer(reader);
    assert.equal(cli("exec", reader.name, "cat", "/data/f"), `kept-${RUN}`);
    await removeContainer(reader.name);

    await removeVolume(vol);
    await removeVolume(auto);
    assert.equal(spawnSync("docker", ["volume", "inspect", vol]).status, 1);
    await removeVolume(vol); // already gone
  });

  it("removing objects that do not exist succeeds", async () => {
    await assert.rejects(
      runContainer(spec("nope", { health: health({ kind: "http", port: 80 }) })),
      /health check port 80 is not published/,
    );
    assert.equal(await inspectContainer(n("nope")), undefined, "nothing created for a bad spec");
    await removeContainer(n("nope"));
    await removeVolume(n("nope"));
    await removeNetwork(n("nope"));
    await removeImage(`${n("nope")}:latest`);
    assert.equal(await inspectContainer(n("nope")), undefined);
    assert.equal(await imageId(`${n("nope")}:latest`), undefined);
  });

  it("buildImage: honours .dockerignore and build args, labels the image", async () => {
    const ctx = path.join(tmp, "ctx");
    fs.mkdirSync(path.join(ctx, "sub"), { recursive: true });
    fs.writeFileSync(path.join(ctx, "keep.txt"), "keep\n");
    fs.writeFileSync(path.join(ctx, "secret.txt"), "secret\n");
    fs.writeFileSync(path.join(ctx, "sub", "debug.log"), "log\n");
    fs.writeFileSync(path.join(ctx, ".dockerignore"), "secret.txt\n**/*.log\nbuild.Dockerfile\n");
    fs.writeFileSync(
      path.join(ctx, "build.Dockerfile"),
      [
        "FROM debian:bookworm",
        "ARG GREETING",
        "COPY . /ctx",
        'RUN test "$GREETING" = hello && test -f /ctx/keep.txt && test ! -e /ctx/secret.txt \\',
        "    && test ! -e /ctx/sub/debug.log && test -d /ctx/sub",
      ].join("\n"),
    );
    const lines: string[] = [];
    const tag = n("ignored");
    const { imageId: id } = await buildImage({
      context: ctx,
      dockerfile: "build.Dockerfile",
      args: { GREETING: "hello" },
      tag,
      labels,
      onLog: (l) => lines.push(l),
    });
    assert.equal(await imageId(tag), id);
    assert.ok(
      lines.some((l) => l.startsWith("Step 4/5 : RUN")),
      lines.join("\n"),
    );
    assert.equal(
      cli("image", "inspect", "--format", `{{index .Config.Labels "${KEY}"}}`, tag),
      RUN,
    );
    await removeImage(tag);
    assert.equal(await imageId(tag), undefined);
  });

  it("removeImage and removeLabelled leave what someone ran by hand from an env's image; an env container still on it is an error", async () => {
    const ctx = path.join(tmp, "used");
    fs.mkdirSync(ctx, { recursive: true });
    fs.writeFileSync(path.join(ctx, "Dockerfile"), `FROM debian:bookworm\nLABEL run=${RUN}\n`);
    const env = `t${RUN}`;
    const tag = `${n("used")}:latest`;
    // As envctl builds an env's image: with the env's labels, which its containers inherit.
    const { imageId: id } = await buildImage({
      context: ctx,
      dockerfile: "Dockerfile",
      args: {},
      tag,
      labels: { ...labels, ...envLabels(env, "backend") },
    });
    // Someone ran the built image by hand (`docker run envctl/...`): labelled like the env's.
    const foreign = `hand-run-${RUN}`;
    cli("create", "--name", foreign, tag, "true");
    assert.equal(
      cli("inspect", "-f", `{{index .Config.Labels "${LABEL_ENV}"}}`, foreign),
      env,
      "the label came from the image",
    );
    try {
      await removeImage(tag);
      assert.equal(await imageId(tag), id, "left with its tag for the container using it");
      assert.ok(await inspectContainer(foreign), "the other container is untouched");
      await removeLabelled(LABEL_ENV, env);
      assert.ok(await inspectContainer(foreign), "removeLabelled leaves it too");
      // One of envctl's own still uses it: that is an ordering fault, said as an error.
      const own = n("own");
      cli("create", "--name", own, tag, "true");
      await assert.rejects(removeImage(tag), /removing image .*used/);
      await removeContainer(own);
    } finally {
      await removeContainer(foreign);
    }
    await removeImage(tag);
    assert.equal(await imageId(tag), undefined, "gone once nothing uses it");
  });

  it("buildImage: a failing step is named, with its output", async () => {
    const ctx = path.join(tmp, "broken");
    fs.mkdirSync(ctx);
    fs.writeFileSync(
      path.join(ctx, "Dockerfile"),
      "FROM debian:bookworm\nRUN echo step-two-ok\nRUN echo about-to-fail && exit 3\n",
    );
    const tag = n("broken");
    const err = await buildImage({ context: ctx, dockerfile: "Dockerfile", args: {}, tag, labels })
      .then(() => assert.fail("build should fail"))
      .catch((e: unknown) => e as Error);
    assert.match(
      err.message,
      new RegExp(
        `building image ${tag} failed at step 3/4 \\(RUN echo about-to-fail && exit 3\\): `,
      ),
    );
    assert.match(err.message, /returned a non-zero code: 3/);
    assert.match(err.message, /about-to-fail/);
    assert.doesNotMatch(err.message, /step-two-ok|at .*\.js:\d+/);
    assert.equal(await imageId(tag), undefined);

    fs.writeFileSync(path.join(ctx, "Dockerfile"), "FROM debian:bookworm\nFROBNICATE now\n");
    await assert.rejects(
      buildImage({ context: ctx, dockerfile: "Dockerfile", args: {}, tag, labels }),
      new RegExp(`building image ${tag}.*unknown instruction: FROBNICATE`, "i"),
    );
    await assert.rejects(
      buildImage({ context: ctx, dockerfile: "Missing.Dockerfile", args: {}, tag, labels }),
      /no Dockerfile at .*Missing\.Dockerfile/,
    );
  });

  it("leaves nothing behind (API and docker CLI)", async () => {
    await removeNetwork(NET);
    await removeNetwork(NET); // already gone
    assert.deepEqual(await listByLabel(KEY, RUN), { containers: [], volumes: [], networks: [] });
    assert.deepEqual(leftovers(KEY, RUN), { containers: "", volumes: "", networks: "" });
  });
});
