import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { topoOrder } from "../../lib/core/graph";
import { a3sPath } from "../../lib/spec/a3s-name";
import { declarationOrder, loadA3sfile, parseA3sData, syntaxIssue } from "../../lib/spec/a3sfile";
import { specFormat } from "../../lib/spec/format";
import { formatIssue, parseSpecText } from "../../lib/spec/load";
import type { ProcessService } from "../../lib/spec/model";
import { fixedPorts, hostPorts, resolveServices } from "../../lib/spec/ports";

/** The a3s dev document's own example, as it is written there. */
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-a3s-"));
const EXAMPLE = path.join(DIR, "A3sfile.hcl");
fs.copyFileSync(path.join(__dirname, "..", "fixtures", "a3s", "A3sfile.hcl"), EXAMPLE);

/** hcl2json's shape of `service "NAME" { ... }` blocks, without the HCL step. */
const doc = (services: Record<string, Record<string, unknown>>, extra: object = {}) => ({
  service: Object.fromEntries(Object.entries(services).map(([n, b]) => [n, [b]])),
  ...extra,
});
const errors = (data: unknown): string[] => {
  const r = parseA3sData(data, DIR);
  assert.equal(r.spec, undefined, "no spec when there are errors");
  return r.errors.map(formatIssue);
};

test("the document's whole A3sfile.hcl reads, in its declaration order, and yields its start order", () => {
  const r = loadA3sfile(EXAMPLE);
  assert.deepEqual(r.errors, []);
  const spec = r.spec!;
  assert.equal(spec.source, "a3s");
  assert.deepEqual(
    spec.services.map((s) => s.name),
    ["gateway", "power", "search", "event", "lane", "safeclaw", "box", "os"],
    "declaration order, not hcl2json's sorted labels",
  );
  const topo = topoOrder(spec.services);
  assert.ok(topo.ok);
  assert.deepEqual(topo.order, [
    "gateway",
    "power",
    "search",
    "event",
    "lane",
    "safeclaw",
    "box",
    "os",
  ]);
  assert.deepEqual(spec.dev, { proxyPort: 7080, logLevel: "info" });
  const byName = Object.fromEntries(spec.services.map((s) => [s.name, s as ProcessService]));
  const gw = byName.gateway!;
  assert.equal(gw.type, "process");
  assert.equal(gw.cmd, "cargo run -p a3s-gateway -- --config crates/gateway/gateway.hcl");
  assert.equal(gw.dir, "crates/gateway");
  assert.deepEqual(gw.env, { RUST_LOG: "info" });
  assert.equal(gw.subdomain, "gateway");
  assert.equal(gw.restart, "on-failure", "a3s restarts crashed services");
  assert.deepEqual(gw.watch, {
    paths: ["crates/gateway/src", "crates/gateway/gateway.hcl"],
    ignore: ["target", "*.lock"],
    restart: true,
    debounceMs: 500,
  });
  assert.deepEqual(gw.health, {
    kind: "http",
    path: "/health",
    port: 8080,
    intervalMs: 2000,
    timeoutMs: 1000,
    retries: 3,
    startPeriodMs: 300_000,
  });
  assert.equal(byName.search!.health!.kind, "tcp");
  assert.equal(byName.search!.health!.port, 8081);
  assert.equal(byName.os!.watch!.restart, false, "Next.js reloads itself");
  assert.deepEqual(byName.box!.dependsOn, ["safeclaw", "power"]);
  assert.equal(byName.event!.watch, undefined);
  // a3s has no port blocks: every env of this file listens on the document's ports.
  assert.deepEqual(fixedPorts(spec.services), [8080, 11434, 8081, 4222, 8082, 8083, 8084, 3000]);
  assert.deepEqual(hostPorts(spec.services, 12000), [], "nothing in the block");
  const resolved = resolveServices(spec.services, 13000);
  assert.deepEqual(
    resolved.map((s) => s.ports[0]!.host),
    [8080, 11434, 8081, 4222, 8082, 8083, 8084, 3000],
  );
});

test("an A3sfile is told by its name; envctl.yaml and compose files are not", () => {
  assert.equal(specFormat(EXAMPLE), "a3s");
  assert.equal(specFormat("/x/dev.hcl"), "a3s");
  assert.equal(specFormat("/nonexistent/envctl.yaml"), "envctl");
});

test("declarationOrder reads the service labels in file order, skipping repeats", () => {
  assert.deepEqual(
    declarationOrder('# service "no"\nservice "b" {\n}\n  service "a" {}\nservice "b" {}\n'),
    ["b", "a"],
  );
});

test("HCL syntax errors name the file, line and column", async () => {
  const file = path.join(DIR, "broken.hcl");
  fs.writeFileSync(file, 'service "a" {\n  cmd = \n}\n');
  const r = loadA3sfile(file);
  assert.equal(r.errors.length, 1);
  assert.equal(
    formatIssue(r.errors[0]!),
    "broken.hcl:2:9: HCL: Invalid expression: Expected the start of an expression, but found an invalid expression token.",
  );
  const again = syntaxIssue(
    "x.hcl",
    'parse config: [x.hcl:3,3-7: Attribute redefined; The argument "port" was already set at x.hcl:2,3-7.]',
  );
  assert.deepEqual([again.line, again.column], [3, 3]);
  assert.match(again.message, /^HCL: Attribute redefined: The argument "port"/);
});

test("unknown blocks and attributes are named with their dot-paths", () => {
  assert.deepEqual(errors({ servce: { c: [{}] }, ...doc({ a: { cmd: "x" } }) }), [
    'servce: unknown block "servce" (an A3sfile has "dev" and "service" blocks)',
  ]);
  assert.deepEqual(errors({ version: 2, ...doc({ a: { cmd: "x" } }) }), [
    'version: unknown attribute "version" (an A3sfile has "dev" and "service" blocks)',
  ]);
  assert.deepEqual(errors(doc({ a: { cmd: "x", healthz: [{}] } })), [
    'service.a: unknown block "healthz"',
  ]);
  assert.deepEqual(errors(doc({ a: { cmd: "x", prot: 80 } })), [
    'service.a: unknown attribute "prot"',
  ]);
});

test("a wrong health type, a tcp check without a port and a path on tcp name the field", () => {
  assert.deepEqual(errors(doc({ a: { cmd: "x", port: 80, health: [{ type: "grpc" }] } })), [
    'service.a.health.type: must be one of "http", "tcp"',
  ]);
  assert.deepEqual(errors(doc({ a: { cmd: "x", health: [{ type: "tcp" }] } })), [
    'service.a.health.type: a "tcp" check connects to the service\'s port: set port',
  ]);
  assert.deepEqual(
    errors(doc({ a: { cmd: "x", port: 80, health: [{ type: "tcp", path: "/h" }] } })),
    ['service.a.health.path: applies to type = "http" only'],
  );
  assert.deepEqual(
    errors(doc({ a: { cmd: "x", port: 80, health: [{ type: "http", interval: "soon" }] } })),
    [
      'service.a.health.interval: must be a duration like "500ms", "2s" or "1m", or a number of seconds',
    ],
  );
});

test("a dependency cycle and an unknown dependency are reported in the A3sfile's words", () => {
  assert.deepEqual(
    errors(doc({ a: { cmd: "x", depends_on: ["b"] }, b: { cmd: "y", depends_on: ["a"] } })),
    ["service: dependency cycle: a -> b -> a"],
  );
  const e = errors(doc({ a: { cmd: "x", depends_on: ["nope"] } }));
  assert.equal(e.length, 1);
  assert.match(e[0]!, /^service\.a\.depends_on\[0\]: .*"nope"/);
});

test("a block written twice, templates, a second service on one port and a low proxy port are refused", () => {
  assert.deepEqual(errors({ service: { a: [{ cmd: "x" }, { cmd: "y" }] } }), [
    "service.a: block written 2 times; write it once",
  ]);
  assert.deepEqual(errors(doc({ a: { cmd: "x", health: [{ type: "http" }, { type: "tcp" }] } })), [
    "service.a.health: block written 2 times; write it once",
  ]);
  assert.deepEqual(errors(doc({ a: { cmd: "run ${var.x}" } })), [
    'service.a.cmd: "run ${var.x}": templates (${...}) are not supported; write the value out',
  ]);
  assert.deepEqual(errors(doc({ a: { cmd: "x", port: 8080 }, b: { cmd: "y", port: 8080 } })), [
    "service.b.port: port 8080 is also service.a's; two programs cannot listen on one port",
  ]);
  assert.deepEqual(errors(doc({ a: { cmd: "x" } }, { dev: [{ proxy_port: 80 }] })), [
    "dev.proxy_port: must be 1024 or above (the proxy runs without root)",
  ]);
  assert.deepEqual(errors({}), ['service: the A3sfile needs at least one service "NAME" block']);
});

test('restart and max_restarts may be set per service; restart = "no" keeps a3s\'s crashes down', () => {
  const r = parseA3sData(
    doc({ a: { cmd: "x", restart: "no" }, b: { cmd: "y", restart: "always", max_restarts: 3 } }),
    DIR,
  );
  assert.deepEqual(r.errors, []);
  const [a, b] = r.spec!.services as ProcessService[];
  assert.equal(a!.restart, undefined, '"no" is the model\'s default');
  assert.equal(b!.restart, "always");
  assert.equal(b!.maxRestarts, 3);
  assert.deepEqual(errors(doc({ a: { cmd: "x", restart: "sometimes" } })), [
    'service.a.restart: must be one of "no", "on-failure", "always"',
  ]);
});

test("a3sPath maps envctl.yaml's names of mapped fields back", () => {
  assert.equal(a3sPath("services.web.ports[0]"), "service.web.port");
  assert.equal(a3sPath("services.web.health.http"), "service.web.health.path");
  assert.equal(a3sPath("services.web.watch.paths[1]"), "service.web.watch.paths[1]");
  assert.equal(a3sPath("services"), "service");
});

// envctl.yaml has the same fields, with its own names.
const yaml = (body: string) =>
  parseSpecText(`services:\n${body}`, { file: path.join(DIR, "envctl.yaml") });
const yamlErrors = (body: string) => {
  const r = yaml(body);
  assert.equal(r.spec, undefined);
  return r.errors.map(formatIssue);
};

test("envctl.yaml: restart, max_restarts, watch, subdomain and fixed ports on a process service", () => {
  const r = yaml(
    "  web:\n    cmd: node s.js\n    dir: app\n    ports: [{ port: 3000, fixed: true }]\n    restart: always\n    max_restarts: 5\n    subdomain: web\n    watch: { paths: [src, lib/../app/lib], ignore: [node_modules], debounce: 200ms }\n",
  );
  assert.deepEqual(r.errors, []);
  const web = r.spec!.services[0] as ProcessService;
  assert.equal(web.restart, "always");
  assert.equal(web.maxRestarts, 5);
  assert.equal(web.subdomain, "web");
  assert.deepEqual(web.ports[0], { container: 3000, offset: 0, protocol: "tcp", fixed: true });
  assert.deepEqual(web.watch, {
    paths: ["src", "app/lib"],
    ignore: ["node_modules"],
    restart: true,
    debounceMs: 200,
  });
});

test("envctl.yaml: the new fields refuse what cannot work", () => {
  assert.deepEqual(
    yamlErrors("  db:\n    image: postgres\n    restart: always\n    ports: [5432]\n"),
    [
      'services.db.restart: not allowed on a container service (use "command" for containers, or type: process)',
    ],
  );
  assert.deepEqual(
    yamlErrors("  db:\n    image: postgres\n    ports: [{ container: 5432, fixed: true }]\n"),
    [
      "services.db.ports[0].fixed: only a process service's port can be fixed (a container's is in the block)",
    ],
  );
  assert.deepEqual(yamlErrors("  w:\n    cmd: x\n    max_restarts: 2\n"), [
    'services.w.max_restarts: needs a restart policy: add restart: "on-failure" or "always"',
  ]);
  assert.deepEqual(
    yamlErrors("  w:\n    cmd: x\n    ports: [{ port: 80, fixed: true, offset: 3 }]\n"),
    ["services.w.ports[0].offset: a fixed port is not in the block, so it has no offset"],
  );
  assert.deepEqual(yamlErrors("  w:\n    cmd: x\n    watch: { paths: [../../etc] }\n"), [
    "services.w.watch.paths[0]: must be a path inside the worktree (relative to the spec's directory)",
  ]);
  assert.deepEqual(yamlErrors("  w:\n    cmd: x\n    watch: { paths: [src], restar: true }\n"), [
    'services.w.watch: unknown field "restar" (did you mean "restart"?)',
  ]);
  assert.deepEqual(yamlErrors("  w:\n    cmd: x\n    subdomain: web\n"), [
    "services.w.subdomain: the service publishes no port for the proxy to route to",
  ]);
  assert.deepEqual(
    yamlErrors(
      "  a:\n    cmd: x $PORT\n    ports: [{ port: 1 }]\n    subdomain: web\n  b:\n    cmd: y $PORT\n    ports: [{ port: 2 }]\n    subdomain: web\n",
    ),
    ['services.b.subdomain: "web" is services.a\'s subdomain too'],
  );
  assert.deepEqual(yamlErrors("  w:\n    cmd: x\n    subdomain: Web_1\n"), [
    'services.w.subdomain: must be a DNS label: lowercase letters, digits and "-" (at most 63)',
  ]);
});
