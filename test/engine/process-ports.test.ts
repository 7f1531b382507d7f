/**
 * Process ports on the real engine: a daemon is told its port in PORT (over an env-wide PORT
 * export meant for another service), its health check and `status` look at that same port, and
 * neither `status` nor `outputs` pretend a host process is port-mapped.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { destroy } from "../../cli/commands/destroy";
import { outputs } from "../../cli/commands/outputs";
import { status } from "../../cli/commands/status";
import { up } from "../../cli/commands/up";
import { capture, envName, httpGet, makeRepo, tempHome } from "../support/env";

const SERVER = `const http = require("node:http");
const port = Number(process.env.PORT);
http
  .createServer((req, res) => {
    if (req.url === "/healthz") return res.end("ok");
    res.end(JSON.stringify({ PORT: process.env.PORT, PORT_8080: process.env.PORT_8080 }));
  })
  .listen(port, "127.0.0.1");
`;

// api reads PORT without its cmd saying so (validate warns); side is told through env.sh.
const SPEC = `base: main
services:
  api:
    cmd: exec node server.js
    ports: [{ port: 8080, offset: 0 }]
    health: { http: /healthz, interval: 200ms, retries: 50 }
  side:
    cmd: exec node server.js
    ports: [{ port: 9000, offset: 1 }]
    health: { tcp: 9000, interval: 200ms, retries: 50 }
exports:
  PORT: "{{ports.side}}"
`;

interface StatusDoc {
  ok: boolean;
  services: { name: string; health: string; ports: Record<string, number>; listening: unknown }[];
}

describe("process ports", { timeout: 5 * 60_000 }, () => {
  const home = tempHome();
  const repo = makeRepo({ files: { "envctl.yaml": SPEC, "server.js": SERVER } });
  const name = envName("ports");
  const seams = { home, cwd: repo };
  after(async () => {
    await destroy({ name, yes: true, force: true, ...seams, log: () => {} }).catch(() => {});
    fs.rmSync(home.root, { recursive: true, force: true });
    fs.rmSync(repo, { recursive: true, force: true });
  });

  it("PORT reaches the daemon, its health check passes there, status and outputs show it", async () => {
    const u = capture();
    const out = await up({
      name,
      file: path.join(repo, "envctl.yaml"),
      yes: true,
      ...seams,
      ...u.seams,
    });
    const base = out.base as number;
    assert.ok(
      u.log.some((l) =>
        l.startsWith("warning: services.api.ports[0]: cmd and env never mention this port"),
      ),
      u.log.join("\n"),
    );
    assert.ok(!u.log.some((l) => l.includes("services.side.")), u.log.join("\n"));

    // Its own port, not env.sh's PORT (side's): the health check passed on base + 0.
    const answer = await httpGet(`http://127.0.0.1:${base}/`);
    assert.deepEqual(JSON.parse(answer.body), { PORT: String(base), PORT_8080: String(base) });

    const table = capture();
    assert.equal(await status({ name, ...seams, ...table.seams }), 0, table.out.join("\n"));
    const text = table.out.join("\n");
    assert.match(text, new RegExp(`│ api .*│ healthy +│.*│ ${base} +│`), text);
    assert.match(text, new RegExp(`│ side .*│ healthy +│.*│ ${base + 1} +│`), text);
    assert.ok(!text.includes("->"), text);

    const json = capture();
    await status({ name, json: true, ...seams, ...json.seams });
    const doc = JSON.parse(json.out.join("")) as StatusDoc;
    assert.deepEqual(
      doc.services.map((s) => [s.name, s.health, s.ports, s.listening]),
      [
        ["api", "healthy", { "8080": base }, [base]],
        ["side", "healthy", { "9000": base + 1 }, [base + 1]],
      ],
    );

    const o = capture();
    await outputs({ name, ...seams, ...o.seams });
    const shown = o.out.join("\n");
    assert.match(shown, new RegExp(`│ api +│ process +│ running +│ ${base} +│`), shown);
    assert.ok(!shown.includes(`${base}->`), shown);
  });
});
