import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { logs } from "../../cli/commands/logs";
import { INIT_LOG, truncateLogIfLarge } from "../../lib/runtime/daemon";
import { UserError } from "../../lib/core/errors";
import { resolveHome, type Home } from "../../lib/core/home";
import {
  colorEnabled,
  displayText,
  dockerSince,
  followFile,
  FrameDemuxer,
  LineSplitter,
  lastLines,
  mergeHistory,
  PALETTE,
  prefixer,
  readTail,
  resumeAfterTruncation,
  splitDockerTime,
  type LogLine,
} from "../../cli/ui/logs";
import type { ResolvedEnv, ResolvedService } from "../../lib/spec/model";
import { scratchDirs, seedEnv } from "../support/env";

const tmpDir = scratchDirs();

const ESC = "\x1b[";

describe("colours", () => {
  it("NO_COLOR always wins, FORCE_COLOR forces, otherwise only a terminal gets colour", () => {
    assert.equal(colorEnabled({}, true), true);
    assert.equal(colorEnabled({}, false), false);
    assert.equal(colorEnabled({ FORCE_COLOR: "1" }, false), true);
    assert.equal(colorEnabled({ FORCE_COLOR: "0" }, true), false);
    assert.equal(colorEnabled({ NO_COLOR: "1" }, true), false);
    assert.equal(colorEnabled({ NO_COLOR: "1", FORCE_COLOR: "1" }, true), false);
    assert.equal(colorEnabled({ NO_COLOR: "" }, true), true, "an empty NO_COLOR does not count");
  });

  it("pads the prefix to the longest service name and keeps the line's own text", () => {
    const p = prefixer(["web", "postgres", "db"], false);
    assert.equal(p.line("web", "listening"), "web      | listening");
    assert.equal(p.line("postgres", `${ESC}32mready${ESC}0m`), `postgres | ${ESC}32mready${ESC}0m`);
    assert.equal(p.line("db", ""), "db       |", "no trailing space on an empty line");
    assert.equal(p.note("db", "(no output yet)"), "db       | (no output yet)");
  });

  it("colours prefixes from a palette in spec order, cycling past its end", () => {
    const names = Array.from({ length: PALETTE.length + 1 }, (_, i) => `s${i}`);
    const p = prefixer(names, true);
    const first = p.line("s0", "x");
    assert.ok(first.startsWith(`${ESC}36m`), `s0 is cyan: ${JSON.stringify(first)}`);
    assert.ok(p.line("s1", "x").startsWith(`${ESC}33m`), "s1 is yellow");
    assert.notEqual(p.line("s1", "x").slice(0, 5), first.slice(0, 5));
    assert.equal(p.line(`s${PALETTE.length}`, "x").slice(0, 5), first.slice(0, 5), "cycles");
    assert.ok(first.endsWith(" x"), "the text itself is not coloured");
    assert.match(p.note("s0", "(no output yet)"), /\x1b\[2m\(no output yet\)/);
  });
});

describe("line splitting", () => {
  it("joins lines and UTF-8 characters split across chunks; end() gives the unterminated rest", () => {
    const s = new LineSplitter();
    const bytes = Buffer.from("héllo\nwor");
    assert.deepEqual(s.push(bytes.subarray(0, 2)), []); // "h" and half of "é"
    assert.deepEqual(s.push(bytes.subarray(2)), ["héllo"]);
    assert.deepEqual(s.push("ld\n\nlast"), ["world", ""]);
    assert.deepEqual(s.end(), ["last"]);
    assert.deepEqual(s.end(), []);
  });

  it("gives the same lines however the stream is cut (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.nat()), (text, cuts) => {
        const buf = Buffer.from(text);
        const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
        const s = new LineSplitter();
        const got: string[] = [];
        let prev = 0;
        for (const p of [...points, buf.length]) {
          got.push(...s.push(buf.subarray(prev, p)));
          prev = p;
        }
        got.push(...s.end());
        const want = new LineSplitter();
        assert.deepEqual(got, [...want.push(buf), ...want.end()]);
        assert.equal(got.join("\n"), text.endsWith("\n") ? text.slice(0, -1) : text);
      }),
    );
  });

  it("shows what a terminal would: no CR of a CRLF, only the last of \\r-separated updates", () => {
    assert.equal(displayText("done\r"), "done");
    assert.equal(displayText("10%\r50%\r100%"), "100%");
    assert.equal(displayText("plain"), "plain");
  });
});

describe("Docker log frames and timestamps", () => {
  const frame = (type: number, text: string): Buffer => {
    const payload = Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = type;
    head.writeUInt32BE(payload.length, 4);
    return Buffer.concat([head, payload]);
  };

  it("demultiplexes frames whose headers and payloads are split across chunks (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(1, 2), fc.string({ minLength: 1 })), { maxLength: 8 }),
        fc.array(fc.nat()),
        (frames, cuts) => {
          const buf = Buffer.concat(frames.map(([t, s]) => frame(t, s)));
          const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
          const d = new FrameDemuxer();
          const got: [number, string][] = [];
          let prev = 0;
          for (const p of [...points, buf.length]) {
            for (const f of d.push(buf.subarray(prev, p))) {
              got.push([f.stream === "stderr" ? 2 : 1, f.payload.toString()]);
            }
            prev = p;
          }
          assert.deepEqual(got, frames);
        },
      ),
    );
  });

  it("splits the timestamp off and pads its fraction so times compare as strings", () => {
    const a = splitDockerTime("2024-05-01T10:00:00.12Z hello world");
    const b = splitDockerTime("2024-05-01T10:00:00.1200001Z later");
    assert.ok(a.time! < b.time!, "0.12 s is before 0.1200001 s");
    assert.deepEqual(a, { time: "2024-05-01T10:00:00.120000000", text: "hello world" });
    assert.deepEqual(splitDockerTime("2024-05-01T10:00:01Z x"), {
      time: "2024-05-01T10:00:01.000000000",
      text: "x",
    });
    assert.deepEqual(splitDockerTime("no timestamp here"), { text: "no timestamp here" });
    assert.equal(dockerSince("2024-05-01T10:00:00.120000000"), "1714557600.120000000");
  });

  it("merges history by time when every line has one, ties in spec order; else per service", () => {
    const l = (service: string, text: string, time?: string): LogLine =>
      time === undefined ? { service, text } : { service, text, time };
    const db = [l("db", "d1", "2024-01-01T00:00:01.0"), l("db", "d2", "2024-01-01T00:00:03.0")];
    const cache = [
      l("cache", "c1", "2024-01-01T00:00:02.0"),
      l("cache", "c2", "2024-01-01T00:00:03.0"),
    ];
    assert.deepEqual(
      mergeHistory([db, cache]).map((x) => x.text),
      ["d1", "c1", "d2", "c2"],
    );
    const web = [l("web", "w1"), l("web", "w2")];
    assert.deepEqual(
      mergeHistory([db, web, cache]).map((x) => x.text),
      ["d1", "d2", "w1", "w2", "c1", "c2"],
    );
    assert.deepEqual(mergeHistory([[], []]), []);
  });
});

describe("log files", () => {
  it("lastLines behaves like tail -n", () => {
    assert.deepEqual(lastLines("a\nb\nc\n", 2), ["b", "c"]);
    assert.deepEqual(lastLines("a\nb\nc", 2), ["b", "c"]);
    assert.deepEqual(lastLines("a\n", 5), ["a"]);
    assert.deepEqual(lastLines("", 5), []);
    assert.deepEqual(lastLines("a\nb\n", 0), []);
  });

  it("readTail reads only the end of a large file and says where it ended", () => {
    const file = path.join(tmpDir("tail"), "big.log");
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"x".repeat(40)}`);
    fs.writeFileSync(file, lines.join("\n") + "\npartial");
    const t = readTail(file, 3)!;
    assert.deepEqual(t.lines, [lines[19_998], lines[19_999], "partial"]);
    assert.equal(t.at.end, fs.statSync(file).size);
    assert.equal(t.at.ino, fs.statSync(file).ino);
    assert.deepEqual(readTail(file, 0)!.lines, []);
    assert.equal(readTail(path.join(path.dirname(file), "missing.log"), 3), undefined);
  });

  it("finds its place after truncateLogIfLarge, whether the kept tail is longer or shorter than what it remembers", () => {
    for (const maxBytes of [2_000, 40_000]) {
      const file = path.join(tmpDir("trunc"), "svc.log");
      fs.writeFileSync(file, Array.from({ length: 5000 }, (_, i) => `old line ${i}\n`).join(""));
      const content = fs.readFileSync(file);
      const recent = content.subarray(content.length - 4096);
      assert.ok(truncateLogIfLarge(file, maxBytes));
      fs.appendFileSync(file, "new line A\nnew line B\n");
      const head = fs.readFileSync(file);
      const r = resumeAfterTruncation(head, recent);
      assert.match(r.marker ?? "", /^--- envctl: log truncated at .* \(was \d+ bytes\) ---$/);
      assert.equal(
        head.subarray(r.offset).toString(),
        "new line A\nnew line B\n",
        `max ${maxBytes}`,
      );
    }
  });

  it("after an unknown truncation, everything is new", () => {
    const recent = Buffer.from("some line we printed before\n");
    assert.deepEqual(resumeAfterTruncation(Buffer.from("fresh\n"), recent), {
      marker: undefined,
      offset: 0,
    });
  });

  it("followFile picks up appends, a file that appears late and a replaced file", async () => {
    const dir = tmpDir("follow");
    const file = path.join(dir, "svc.log");
    const ac = new AbortController();
    const got: string[] = [];
    const splitter = new LineSplitter();
    const done = followFile(file, {
      signal: ac.signal,
      pollMs: 20,
      onData: (chunk) => got.push(...splitter.push(chunk)),
    });
    fs.writeFileSync(file, "first\n");
    await until(() => got.includes("first"));
    fs.appendFileSync(file, "second\n");
    await until(() => got.includes("second"));
    const other = path.join(dir, "svc.log.new");
    fs.writeFileSync(other, "replacement\n");
    fs.renameSync(other, file);
    await until(() => got.includes("replacement"));
    ac.abort();
    await done;
    assert.deepEqual(got, ["first", "second", "replacement"]);
  });
});

// ---- the command, against a temp ENVCTL_HOME ----------------------------------------------

function proc(name: string): ResolvedService {
  return {
    name,
    type: "process",
    cmd: "true",
    dir: ".",
    env: {},
    ports: [],
    dependsOn: [],
    cold: false,
  };
}

function setupEnv(
  services: ResolvedService[],
  init: ResolvedEnv["init"] = [],
): { home: Home; name: string; stateDir: string } {
  const home = resolveHome({ ENVCTL_HOME: tmpDir("home") });
  const env = seedEnv(home, "logs-test", { services, init });
  return { home, name: env.name, stateDir: env.stateDir };
}

function outLines(out: string[]): string[] {
  return out.flatMap((t) => t.split("\n"));
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("envctl logs", () => {
  it("prints the last N lines of each service in spec order, prefixed, without touching Docker", async () => {
    const { home, name, stateDir } = setupEnv([proc("web"), proc("worker"), proc("idle")]);
    fs.writeFileSync(path.join(stateDir, "web.log"), "w1\nw2\n\x1b[32mw3 green\x1b[0m\n");
    fs.writeFileSync(
      path.join(stateDir, "worker.log"),
      Array.from({ length: 150 }, (_, i) => `job ${i}\n`).join(""),
    );
    const out: string[] = [];
    await logs({ name, home, lines: "2", color: false, out: (t) => out.push(t) });
    assert.deepEqual(outLines(out), [
      "web    | w2",
      "web    | \x1b[32mw3 green\x1b[0m",
      "worker | job 148",
      "worker | job 149",
      "idle   | (no output yet)",
    ]);
    const dockerLoaded = Object.keys(require.cache).some(
      (k) => k.includes(`${path.sep}lib${path.sep}docker${path.sep}`) || k.includes("dockerode"),
    );
    assert.equal(dockerLoaded, false, "a container-less env never loads the Docker client");
  });

  it("shows one service when asked, and refuses unknown services, envs and line counts (exit 2)", async () => {
    const { home, name, stateDir } = setupEnv([proc("web"), proc("worker")]);
    fs.writeFileSync(path.join(stateDir, "worker.log"), "only worker\n");
    const out: string[] = [];
    await logs({ name, home, service: "worker", color: false, out: (t) => out.push(t) });
    assert.deepEqual(outLines(out), ["worker | only worker"]);

    const rejects = async (o: Partial<Parameters<typeof logs>[0]>, msg: RegExp): Promise<void> => {
      await assert.rejects(logs({ name, home, out: () => undefined, ...o }), (err: unknown) => {
        assert.ok(err instanceof UserError);
        assert.equal(err.exitCode, 2);
        assert.match([err.message, ...err.details].join("\n"), msg);
        return true;
      });
    };
    await rejects({ service: "nope" }, /no service "nope"[\s\S]*web, worker/);
    await rejects({ name: "ghost" }, /env ghost does not exist/);
    await rejects({ lines: "ten" }, /--lines/);
    await rejects({ lines: "-1" }, /--lines/);
  });

  it("shows the init steps' log first when the spec has init steps, and alone by its label", async () => {
    const step = { name: "migrate", run: "true", dir: "." };
    const { home, name, stateDir } = setupEnv([proc("web")], [step]);
    fs.writeFileSync(path.join(stateDir, "web.log"), "serving\n");
    fs.writeFileSync(path.join(stateDir, INIT_LOG), "--- envctl: init step migrate ---\nok 3\n");
    const out: string[] = [];
    await logs({ name, home, color: false, out: (t) => out.push(t) });
    assert.deepEqual(outLines(out), [
      "init | --- envctl: init step migrate ---",
      "init | ok 3",
      "web  | serving",
    ]);
    const only: string[] = [];
    await logs({ name, home, service: "init", lines: 1, color: false, out: (t) => only.push(t) });
    assert.deepEqual(outLines(only), ["init | ok 3"]);

    // A service called init keeps its name; the init log becomes "(init)".
    const clash = setupEnv([proc("init")], [step]);
    fs.writeFileSync(path.join(clash.stateDir, INIT_LOG), "step output\n");
    fs.writeFileSync(path.join(clash.stateDir, "init.log"), "daemon output\n");
    const both: string[] = [];
    await logs({ name: clash.name, home: clash.home, color: false, out: (t) => both.push(t) });
    assert.deepEqual(outLines(both), ["(init) | step output", "init   | daemon output"]);

    // Without init steps there is no init source.
    const plain = setupEnv([proc("web")]);
    await assert.rejects(
      logs({ name: plain.name, home: plain.home, service: "init", out: () => undefined }),
      /no service "init"/,
    );
  });

  it("colours prefixes when asked and keeps the services' own colours", async () => {
    const { home, name, stateDir } = setupEnv([proc("web")]);
    fs.writeFileSync(path.join(stateDir, "web.log"), "\x1b[31mred text\x1b[39m\n");
    const out: string[] = [];
    await logs({ name, home, color: true, out: (t) => out.push(t) });
    assert.equal(out.join(""), `${ESC}36mweb |${ESC}39m ${ESC}31mred text${ESC}39m`);
  });

  it("-f follows appends, partial writes, late files and a truncation, and stops on abort", async () => {
    const { home, name, stateDir } = setupEnv([proc("web"), proc("worker"), proc("idle")]);
    const web = path.join(stateDir, "web.log");
    const worker = path.join(stateDir, "worker.log");
    fs.writeFileSync(web, "boot\n");
    fs.writeFileSync(worker, Array.from({ length: 300 }, (_, i) => `job ${i}\n`).join(""));
    const ac = new AbortController();
    const out: string[] = [];
    const running = logs({
      name,
      home,
      follow: true,
      lines: "1",
      color: false,
      pollMs: 20,
      signal: ac.signal,
      out: (t) => out.push(t),
    });
    const lines = (): string[] => outLines(out);
    await until(() => lines().includes("idle   | (no output yet)"));
    assert.deepEqual(lines(), ["web    | boot", "worker | job 299", "idle   | (no output yet)"]);

    fs.appendFileSync(web, "half a ");
    await new Promise((r) => setTimeout(r, 100));
    fs.appendFileSync(web, "line\n");
    await until(() => lines().includes("web    | half a line"));

    fs.writeFileSync(path.join(stateDir, "idle.log"), "woke up\n");
    await until(() => lines().includes("idle   | woke up"));

    assert.ok(truncateLogIfLarge(worker, 1_000));
    fs.appendFileSync(worker, "after truncation\n");
    await until(() => lines().includes("worker | after truncation"));

    ac.abort();
    await running; // returns cleanly
    const all = lines();
    assert.ok(
      all.some((l) => /^worker \| --- envctl: log truncated/.test(l)),
      "marker shown",
    );
    assert.equal(all.filter((l) => l === "worker | job 299").length, 1, "kept tail not repeated");
    assert.equal(all.filter((l) => l.startsWith("worker | job ")).length, 1);
    assert.equal(all.filter((l) => l.includes("half a")).length, 1, "a partial line waits");
  });

  it("merges container history by time, notes an unreadable one, and follows after the last line", async () => {
    const api = await fakeDockerApi({
      "envctl-logs-test-db": {
        tty: false,
        running: true,
        history: [
          [1, "2024-01-01T00:00:01.5Z db one\n"],
          [2, "2024-01-01T00:00:03Z db err\n"],
        ],
        // The follow stream repeats the last line (since is inclusive), then a new one.
        follow: [
          [2, "2024-01-01T00:00:03Z db err\n"],
          [1, "2024-01-01T00:00:04Z db four\n"],
        ],
      },
      "envctl-logs-test-cache": {
        tty: true,
        running: false,
        history: [[1, "2024-01-01T00:00:02Z cache two\r\n"]],
        follow: [],
      },
    });
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `tcp://127.0.0.1:${api.port}`; // read once, by the first docker()
    try {
      const container = (name: string): ResolvedService => ({
        name,
        type: "container",
        image: name,
        env: {},
        ports: [],
        dependsOn: [],
        cold: false,
        volumes: [],
      });
      const { home, name } = setupEnv([container("db"), container("cache"), container("broken")]);
      const out: string[] = [];
      const ac = new AbortController();
      const running = logs({
        name,
        home,
        follow: true,
        color: false,
        signal: ac.signal,
        out: (t) => out.push(t),
      });
      await until(() => outLines(out).includes("db     | db four"));
      ac.abort();
      await running;
      assert.deepEqual(outLines(out), [
        "db     | db one",
        "cache  | cache two",
        "db     | db err",
        "broken | (cannot read its logs: boom)",
        "db     | db four",
      ]);
      const follows = api.requests.filter((r) => r.includes("/logs?") && r.includes("follow=true"));
      assert.ok(
        follows.some(
          (r) => r.includes("envctl-logs-test-db") && r.includes("since=1704067203.000000000"),
        ),
        follows.join("\n"),
      );
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
      await api.close();
    }
  });
});

interface FakeContainer {
  tty: boolean;
  running: boolean;
  /** [stream type, text] frames of the log. */
  history: [number, string][];
  follow: [number, string][];
}

/** Just enough of the Docker Engine API for `envctl logs`: inspect and logs. */
async function fakeDockerApi(
  containers: Record<string, FakeContainer>,
): Promise<{ port: number; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const open = new Set<http.ServerResponse>();
  const body = (c: FakeContainer, frames: [number, string][]): Buffer =>
    Buffer.concat(
      frames.map(([type, text]) => {
        if (c.tty) return Buffer.from(text);
        const payload = Buffer.from(text);
        const head = Buffer.alloc(8);
        head[0] = type;
        head.writeUInt32BE(payload.length, 4);
        return Buffer.concat([head, payload]);
      }),
    );
  const server = http.createServer((req, res) => {
    const url = req.url ?? "";
    requests.push(url);
    const m = /^\/containers\/([^/]+)\/(json|logs)/.exec(url);
    const c = m ? containers[m[1]!] : undefined;
    if (!m || !c) {
      res.writeHead(m?.[1] === "envctl-logs-test-broken" ? 500 : 404, {
        "content-type": "application/json",
      });
      res.end(
        JSON.stringify({
          message: m?.[1] === "envctl-logs-test-broken" ? "boom" : "no such container",
        }),
      );
      return;
    }
    if (m[2] === "json") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          Id: m[1],
          Config: { Tty: c.tty },
          State: { Running: c.running, StartedAt: "2024-01-01T00:00:00Z" },
        }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "application/vnd.docker.multiplexed-stream" });
    if (!url.includes("follow=true")) return res.end(body(c, c.history));
    res.write(body(c, c.follow));
    if (!c.running) return res.end(); // a stopped container's stream ends
    open.add(res);
    res.on("close", () => open.delete(res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.close(() => resolve());
      }),
  };
}
