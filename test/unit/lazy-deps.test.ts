/**
 * lib/providers/lazy-deps.ts, preloaded as the dynamic-provider launcher does it, in a fresh node
 * process each time (it patches the module loader of the process it runs in).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";
import { deferred } from "../../lib/providers/lazy-deps";
import { projectRoot } from "../../lib/core/toolchain";

const ROOT = projectRoot();
const PRELOAD = path.join(ROOT, "dist", "lib", "providers", "lazy-deps.js");

/** Runs `script` in node (cwd: the checkout) and returns what it printed as JSON. */
function inNode(script: string, preload: boolean): Record<string, unknown> {
  const args = [...(preload ? ["--require", PRELOAD] : []), "-e", script];
  const out = execFileSync(process.execPath, args, { cwd: ROOT, encoding: "utf8" });
  return JSON.parse(out) as Record<string, unknown>;
}

const LOADED = `const loaded = (m) => Object.keys(require.cache).some((k) => k.includes("/node_modules/" + m + "/"));`;

describe("the provider preload", () => {
  it("keeps TypeScript and Arborist out of a process that loads the pulumi runtime", () => {
    const script = `${LOADED}
      require("@pulumi/pulumi/runtime");
      console.log(JSON.stringify({ ts: loaded("typescript"), arborist: loaded("@npmcli/arborist") }));`;
    assert.deepEqual(inNode(script, false), { ts: true, arborist: true }, "without it both load");
    assert.deepEqual(inNode(script, true), { ts: false, arborist: false });
  });

  it("loads them on first use: closure serialization still works and uses the real compiler", () => {
    const script = `${LOADED}
      const runtime = require("@pulumi/pulumi/runtime");
      const before = loaded("typescript");
      const factor = 6;
      runtime.serializeFunction(() => (x) => x * factor, { isFactoryFunction: true }).then((s) => {
        const f = require("require-from-string")(s.text)[s.exportName];
        console.log(JSON.stringify({ before, after: loaded("typescript"), value: f(7) }));
      });`;
    assert.deepEqual(inNode(script, true), { before: false, after: true, value: 42 });
  });

  it("keeps OpenTelemetry's SDK out of the program's run entry until tracing starts", () => {
    const script = `${LOADED}
      const tracing = require("@pulumi/pulumi/cmd/run/tracing");
      const span = tracing.newSpan("x"); span.end();
      const before = loaded("@opentelemetry/sdk-trace-node") || loaded("@opentelemetry/exporter-zipkin");
      tracing.start("http://127.0.0.1:1/api/v2/spans");
      console.log(JSON.stringify({ before, after: loaded("@opentelemetry/sdk-trace-node") && loaded("@opentelemetry/exporter-zipkin") }));
      process.exit(0);`;
    assert.deepEqual(
      inNode(script, false),
      { before: true, after: true },
      "without it they load at once",
    );
    assert.deepEqual(inNode(script, true), { before: false, after: true });
  });

  it("requires of the same modules from anywhere else are untouched", () => {
    const script = `const ts = require("typescript");
      console.log(JSON.stringify({ version: typeof ts.version, proxy: require("util").types.isProxy(ts) }));`;
    assert.deepEqual(inNode(script, true), { version: "string", proxy: false });
  });
});

describe("deferred", () => {
  it("calls load once, on the first real access, and then behaves like the module", () => {
    let calls = 0;
    const mod = deferred(() => {
      calls++;
      return { answer: 42, fn: (x: number) => x + 1 };
    }) as { __esModule?: boolean; answer: number; fn(x: number): number };
    assert.equal(mod.__esModule, true, "claims __esModule before loading");
    assert.equal(calls, 0);
    assert.equal(mod.answer, 42);
    assert.equal(mod.fn(1), 2);
    assert.equal(calls, 1);
    assert.deepEqual(Object.keys(mod).sort(), ["answer", "fn"]);
    assert.equal("answer" in mod, true);
    assert.equal(mod.__esModule, undefined, "after loading it is the module's own answer");
    assert.equal(calls, 1);
  });
});
