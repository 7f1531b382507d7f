/**
 * What a process service's ports mean: validate's warnings (a process is not port-mapped; a port
 * its program is never told), the variables a daemon gets (PORT, PORT_<n>, kept over env.sh), and
 * how status and the services table show the port a daemon really listens on.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { status } from "../../cli/commands/status";
import { servicesTable } from "../../cli/ui/output";
import { resolveHome } from "../../lib/core/home";
import { sourceThen } from "../../lib/core/shell";
import { processHandler } from "../../lib/providers/process";
import { startDaemon, stopDaemon, tailLog, unstamp } from "../../lib/runtime/daemon";
import {
  describePort,
  listeningPorts,
  parseListeners,
  type Listening,
} from "../../lib/runtime/listening";
import { formatIssue, parseSpecText } from "../../lib/spec/load";
import type { ResolvedProcess } from "../../lib/spec/model";
import { portEnv, processEnv } from "../../lib/spec/ports";
import { capture, scratchDirs, seedEnv } from "../support/env";

const tmpDir = scratchDirs();

function load(text: string): { errors: string[]; warnings: string[] } {
  const r = parseSpecText(text, { file: "/work/proj/envctl.yaml" });
  return { errors: r.errors.map(formatIssue), warnings: r.warnings.map(formatIssue) };
}
const one = (body: string): string => `services:\n  api: { ${body} }\n`;

describe("validate: process ports", () => {
  it("`port:` names a process's port; `container:` still works but says processes are not mapped", () => {
    assert.deepEqual(load(one("cmd: serve --port $PORT, ports: [{ port: 8080, offset: 0 }]")), {
      errors: [],
      warnings: [],
    });
    assert.deepEqual(
      load(one("cmd: serve --port $PORT, ports: [{ container: 8080, offset: 0 }]")).warnings,
      [
        'services.api.ports[0].container: a process is not port-mapped: it must listen on its host port itself (block base + 0, given in $PORT); write "port: 8080" instead',
      ],
    );
  });

  it("a port nothing tells the program about: a warning at the port, saying how to fix it", () => {
    // What was measured: a program that listens on 8080 by itself.
    assert.deepEqual(load(one("cmd: node server.js, ports: [{ port: 8080, offset: 0 }]")), {
      errors: [],
      warnings: [
        'services.api.ports[0]: cmd and env never mention this port, so the program cannot know it must listen on block base + 0 (not 8080; it gets $PORT and $PORT_8080): use it in cmd (--port $PORT), or set env PORT: "{{ports.api}}" if the program reads PORT itself',
      ],
    });
    // A second port is told only by its own variable or template.
    assert.deepEqual(
      load(
        one(
          "cmd: serve --port $PORT, ports: [{ port: 8080, offset: 0 }, { port: 9229, offset: 229 }]",
        ),
      ).warnings,
      [
        'services.api.ports[1]: cmd and env never mention this port, so the program cannot know it must listen on block base + 229 (not 9229; it gets $PORT_9229): use it in cmd (--port $PORT_9229), or set env PORT_9229: "{{ports.api.9229}}" if the program reads PORT_9229 itself',
      ],
    );
  });

  it("no warning when cmd, env or an export tells the program its port", () => {
    const told = [
      "cmd: serve --port $PORT, ports: [8080]",
      'cmd: "serve --port=${PORT:-3000}", ports: [8080]',
      "cmd: serve --port $PORT_8080, ports: [8080]",
      `cmd: "node -e 'listen(process.env.PORT)'", ports: [8080]`,
      'cmd: "serve --port {{ports.api}}", ports: [8080]',
      'cmd: "serve --port {{ports.api.8080}}", ports: [8080]',
      'cmd: serve, ports: [8080], env: { PORT: "{{ports.api}}" }',
      'cmd: serve, ports: [8080], env: { LISTEN: "0.0.0.0:{{ports.api}}" }',
      "cmd: serve --port $PORT --inspect=$PORT_9229, ports: [8080, { port: 9229, offset: 229 }]",
    ];
    for (const body of told) assert.deepEqual(load(one(body)), { errors: [], warnings: [] }, body);
    // env.sh exports: one that holds just the port (the program may read it), or one cmd expands.
    const viaExports = [
      'services:\n  api: { cmd: serve, ports: [8080] }\nexports: { API_PORT: "{{ports.api}}" }\n',
      'services:\n  api: { cmd: serve --listen $API_ADDR, ports: [8080] }\nexports: { API_ADDR: "127.0.0.1:{{ports.api}}" }\n',
    ];
    for (const text of viaExports) assert.deepEqual(load(text), { errors: [], warnings: [] }, text);
    // An export that merely embeds the port (a URL for others) does not tell the program.
    assert.equal(
      load(
        'services:\n  api: { cmd: serve, ports: [8080] }\nexports: { API_URL: "http://localhost:{{ports.api}}" }\n',
      ).warnings.length,
      1,
    );
    // Words that only contain PORT do not count.
    assert.equal(load(one("cmd: serve --port $CORE_PORT, ports: [8080]")).warnings.length, 1);
    assert.equal(load(one("cmd: serve --port $PORTAL, ports: [8080]")).warnings.length, 1);
  });

  it("env that sets PORT to something else: one warning at env.PORT", () => {
    assert.deepEqual(load(one('cmd: serve, ports: [8080], env: { PORT: "8080" }')).warnings, [
      'services.api.env.PORT: replaces the port envctl gives the program (block base + 80), where health checks and status look; drop it or set it to "{{ports.api}}"',
    ]);
    assert.deepEqual(
      load(one('cmd: serve, ports: [8080, 9229], env: { PORT_9229: "1" }')).warnings,
      [
        'services.api.ports[0]: cmd and env never mention this port, so the program cannot know it must listen on block base + 80 (not 8080; it gets $PORT and $PORT_8080): use it in cmd (--port $PORT), or set env PORT: "{{ports.api}}" if the program reads PORT itself',
        'services.api.env.PORT_9229: replaces the port envctl gives the program (block base + 229), where health checks and status look; drop it or set it to "{{ports.api.9229}}"',
      ],
    );
  });

  it("`port:` on a container and a port object without a number are errors", () => {
    assert.deepEqual(load(one("image: x, ports: [{ port: 80 }]")).errors, [
      'services.api.ports[0].port: not allowed on a container service (use "container": the port inside it)',
    ]);
    assert.deepEqual(load(one("cmd: x, ports: [{ offset: 3 }]")).errors, [
      `services.api.ports[0]: must set "container" (a container's port) or "port" (a process's)`,
    ]);
    assert.deepEqual(load(one("cmd: x, ports: [{ port: 3, container: 3 }]")).errors, [
      'services.api.ports[0]: set either "container" or "port", not both',
    ]);
  });

  it("the dust preset and the test fixtures validate without port warnings", () => {
    const root = path.resolve(__dirname, "..", "..");
    for (const f of [
      "presets/dust/envctl.yaml",
      "test/fixtures/devenv/envctl.yaml",
      "test/fixtures/devenv/light.yaml",
    ]) {
      const file = path.join(root, f);
      const r = parseSpecText(fs.readFileSync(file, "utf8"), { file });
      assert.deepEqual(r.errors, [], f);
      assert.deepEqual(
        r.warnings.filter((w) => /\.ports\[|\.env\.PORT/.test(w.path)),
        [],
        f,
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------

const tcp = (container: number, host: number) => ({
  container,
  offset: host % 1000,
  protocol: "tcp" as const,
  host,
});

describe("what a daemon is told", () => {
  it("PORT is the first port's host port; PORT_<n> names each port; env wins over both", () => {
    assert.deepEqual(portEnv([]), {});
    assert.deepEqual(portEnv([tcp(8080, 10000), tcp(9229, 10229)]), {
      PORT: "10000",
      PORT_8080: "10000",
      PORT_9229: "10229",
    });
    assert.deepEqual(processEnv({ ports: [tcp(8080, 10000)], env: { PORT: "1", X: "y" } }), {
      PORT: "1",
      PORT_8080: "10000",
      X: "y",
    });
  });

  it("sourceThen keeps the named variables over env.sh, with only names in the script", () => {
    const dir = tmpDir("source");
    const envFile = path.join(dir, "env.sh");
    fs.writeFileSync(envFile, "export PORT=1 SHARED=from-env-sh OTHER=kept\n");
    const tricky = `it's "$HOME" \`x\` \\ ;\n done`;
    const script = sourceThen(envFile, 'printf "%s|%s|%s" "$PORT" "$SHARED" "$OTHER"', [
      "PORT",
      "SHARED",
      "not-a-name",
    ]);
    assert.ok(!script.includes("10000") && !script.includes("done"), script);
    const out = execFileSync("/bin/sh", ["-c", script], {
      env: { ...process.env, PORT: "10000", SHARED: tricky },
      encoding: "utf8",
    });
    assert.equal(out, `10000|${tricky}|kept`);
  });

  it("a daemon gets PORT and PORT_<n> over env.sh's PORT, and its command check sees them", async () => {
    const dir = tmpDir("told");
    const envFile = path.join(dir, "env.sh");
    // env-wide exports: PORT for another service, X that the service sets itself
    fs.writeFileSync(envFile, "export PORT=1 X=from-env-sh\n");
    const port = await freePort();
    const props = {
      name: "api",
      stateDir: path.join(dir, "state"),
      cwd: dir,
      cmd: 'echo "PORT=$PORT PORT_8080=$PORT_8080 X=$X"; exec sleep 600',
      vars: { X: "own" },
      envFile,
      envShHash: "h",
      ports: [tcp(8080, port)],
      health: {
        kind: "command" as const,
        command: `test "$PORT" = ${port}`,
        intervalMs: 50,
        timeoutMs: 2_000,
        retries: 40,
        startPeriodMs: 0,
      },
      pid: undefined,
    };
    const { outs } = await processHandler.create(props);
    try {
      assert.equal(
        unstamp(tailLog(path.join(props.stateDir, "api.log"), 1)),
        `PORT=${port} PORT_8080=${port} X=own\n`,
      );
    } finally {
      await processHandler.delete("id", outs);
    }
  });
});

// ---------------------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      server.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

/** A node one-liner that listens on `port` ("$PORT" for the one it is told). */
const listenCmd = (port: string): string =>
  `exec node -e 'require("net").createServer().listen(Number(process.argv[1]), "127.0.0.1")' ${port}`;

describe("where a daemon really listens", () => {
  it("parseListeners reads the listening sockets of /proc/net/tcp (hex ports, state 0A)", () => {
    const table = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:2710 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0",
      "   1: 0100007F:2711 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1",
    ].join("\n");
    assert.deepEqual([...parseListeners(table)], [[4242, 10000]]);
  });

  it("describePort: the port alone when it listens there (or nothing is known), otherwise why not", () => {
    const seen = (mine: number[], any: number[] = []): Listening => ({
      mine,
      any: new Set([...mine, ...any]),
    });
    assert.equal(describePort(10000, undefined), "10000");
    assert.equal(describePort(10000, seen([10000, 9229])), "10000");
    assert.equal(describePort(10000, seen([8080])), "10000 (not listening; it listens on 8080)");
    assert.equal(describePort(10000, seen([])), "10000 (not listening)");
    assert.equal(describePort(10000, seen([], [10000])), "10000 (another process listens there)");
  });

  it("listeningPorts finds a real listener by its socket inode", async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const seen = listeningPorts([process.pid]);
      assert.ok(seen, "these tests need Linux /proc");
      assert.ok(seen.mine.includes(port), `${port} in ${seen.mine.join(",")}`);
      assert.ok(seen.any.has(port));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("the services table maps container ports and shows a process's host port alone", () => {
    const text = servicesTable({
      state: "warm",
      services: {
        db: { type: "container", running: true, ports: { "5432": 10432 }, urls: [] },
        api: { type: "process", running: true, ports: { "8080": 10000 }, urls: [] },
      },
    });
    assert.match(text, /10432->5432/);
    assert.match(text, /│ api +│ process +│ running +│ 10000 +│/);
    assert.ok(!text.includes("10000->"), text);
  });

  describe("status", () => {
    const home = resolveHome({ ENVCTL_HOME: tmpDir("home") });
    const stateDir = path.join(home.envsDir, "ports-test");
    const started: string[] = [];
    after(async () => {
      for (const name of started) await stopDaemon(stateDir, name).catch(() => undefined);
    });

    it("shows the port a daemon was told, and says so when it listens elsewhere", async () => {
      const [told, other, elsewhere] = [await freePort(), await freePort(), await freePort()];
      const svc = (name: string, port: number): ResolvedProcess => ({
        name,
        type: "process",
        cmd: "x",
        dir: ".",
        env: {},
        ports: [tcp(8080, port)],
        dependsOn: [],
        cold: false,
      });
      const worktree = tmpDir("worktree");
      seedEnv(home, "ports-test", {
        services: [svc("good", told), svc("bad", other)],
        worktreeDir: worktree,
      });
      fs.writeFileSync(path.join(stateDir, "env.sh"), "");
      for (const [name, port] of [
        ["good", String(told)],
        ["bad", String(elsewhere)],
      ] as const) {
        started.push(name);
        await startDaemon({ name, dir: stateDir, cwd: worktree, cmd: listenCmd(port), env: {} });
      }
      const deadline = Date.now() + 5_000;
      let table = "";
      let doc: { services: { name: string; ports: unknown; listening: unknown }[] } | undefined;
      while (Date.now() < deadline) {
        // JSON first: once it shows both listening, the table taken after it does too.
        const j = capture();
        await status({ name: "ports-test", home, json: true, ...j.seams });
        doc = JSON.parse(j.out.join("")) as typeof doc;
        const c = capture();
        await status({ name: "ports-test", home, ...c.seams });
        table = c.out.join("\n");
        if (doc!.services.every((s) => Array.isArray(s.listening) && s.listening.length > 0)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(table, new RegExp(`│ good .*│ ${told} +│`), table);
      assert.match(
        table,
        new RegExp(`│ bad .*│ ${other} \\(not listening; it listens on ${elsewhere}\\) +│`),
        table,
      );
      assert.ok(!table.includes("->"), table);
      assert.deepEqual(
        doc!.services.map((s) => [s.name, s.ports, s.listening]),
        [
          ["good", { "8080": told }, [told]],
          ["bad", { "8080": other }, [elsewhere]],
        ],
      );
    });
  });
});
