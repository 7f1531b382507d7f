import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatIssue, loadSpecFile, parseSpecText, specHash } from "../../lib/spec/load";
import type { EnvSpec } from "../../lib/spec/model";
import { makeRepo } from "../support/env";

const FILE = "/work/proj/envctl.yaml";
const parse = (text: string) => parseSpecText(text, { file: FILE });
const errors = (text: string): string[] => {
  const r = parse(text);
  assert.equal(r.spec, undefined, "no spec is returned when there are errors");
  return r.errors.map(formatIssue);
};
/** A spec with one service `web` whose body is `body` (YAML flow mapping contents). */
const web = (body: string) => `services:\n  web: { ${body} }\n`;

test("formatIssue joins path and message; an empty path is just the message", () => {
  assert.equal(
    formatIssue({ path: "services.web.ports[0]", message: "must be 1..65535" }),
    "services.web.ports[0]: must be 1..65535",
  );
  assert.equal(formatIssue({ path: "", message: "cannot read x" }), "cannot read x");
});

test("unknown fields are named, with a suggestion when one is close", () => {
  assert.deepEqual(errors(`services:\n  web:\n    imagee: nginx\n    ports: [80]\n`), [
    'services.web: unknown field "imagee" (did you mean "image"?)',
    'services.web: one of "image" or "build" is required',
  ]);
  assert.deepEqual(errors(`servises: {}\n`), [
    'unknown field "servises" (did you mean "services"?)',
    'services: must define at least one service (or import them with "compose")',
  ]);
  assert.deepEqual(errors(web(`image: x, ports: [{ container: 80, host: 8080 }]`)), [
    `services.web.ports[0]: unknown field "host" (host ports come from the env's port block; set "offset" to choose one)`,
  ]);
});

test("ports out of range and non-numeric ports point at the entry", () => {
  assert.deepEqual(
    errors(
      web(
        `image: x, ports: [80, 0, 70000, "http", { container: 0 }, { container: 80, offset: 1000 }]`,
      ),
    ),
    [
      "services.web.ports[1]: must be 1..65535",
      "services.web.ports[2]: must be 1..65535",
      'services.web.ports[3]: must be a port number (1..65535), got "http"',
      "services.web.ports[4].container: must be 1..65535",
      "services.web.ports[5].offset: must be 0..999",
    ],
  );
  assert.match(
    errors(web(`image: x, ports: ["8080:80"]`))[0]!,
    /^services\.web\.ports\[0\]: must be a container port; host ports come from/,
  );
});

test("image or build, or both (the build is then tagged with the image)", () => {
  const both = parse(web(`image: x, build: ./web`));
  assert.deepEqual(both.errors, []);
  const svc = both.spec!.services[0]!;
  assert.equal(svc.type === "container" && svc.build?.tag, "x");
  assert.deepEqual(errors(web(`command: run`)), [
    'services.web: one of "image" or "build" is required',
  ]);
});

test("bad values name their field", () => {
  assert.deepEqual(
    errors(web(`image: x, health: { command: ok, interval: 5 minutes, retries: 0 }`)),
    [
      'services.web.health.interval: must be a duration like "500ms", "2s" or "1m", or a number of seconds',
      "services.web.health.retries: must be at least 1",
    ],
  );
  assert.deepEqual(errors(web(`image: x, type: lambda, env: { A: [1] }`)), [
    'services.web.type: must be one of "container", "process"',
    "services.web.env.A: must be a string, number or boolean",
  ]);
  assert.deepEqual(errors(web(`image: x, health: { http: /h, tcp: 80 }`)), [
    'services.web.health: must set only one of "command", "test", "http" or "tcp", got "http" and "tcp"',
  ]);
  assert.deepEqual(errors(`services:\n  -web: { image: x }\n  db: 3\n`), [
    'services.-web: invalid service name: use a letter or digit, then letters, digits, "_", "." or "-" (at most 63 characters)',
    "services.db: must be a mapping, got number 3",
  ]);
  assert.deepEqual(errors(`services: {}\n`), [
    'services: must define at least one service (or import them with "compose")',
  ]);
});

test("bad volume specs", () => {
  assert.deepEqual(
    errors(
      web(
        `image: x, volumes: [data, "a:b:c:d", "my vol:/x", "./src:src", { source: data, target: rel }]`,
      ),
    ),
    [
      'services.web.volumes[0]: must be "source:target" or "source:target:ro", got "data"',
      'services.web.volumes[1]: must be "source:target" or "source:target:ro", got "a:b:c:d"',
      'services.web.volumes[2]: volume name "my vol" must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ (bind paths start with "/" or ".")',
      'services.web.volumes[3]: target "src" must be an absolute path',
      'services.web.volumes[4].target: target "rel" must be an absolute path',
    ],
  );
});

test("depends_on: unknown names and self-dependencies", () => {
  const text = `services:\n  db: { image: x, depends_on: { db: {} } }\n  web: { image: x, depends_on: [db, dbx] }\n`;
  assert.deepEqual(errors(text), [
    "services.db.depends_on.db: a service cannot depend on itself",
    'services.web.depends_on[1]: unknown service "dbx"',
  ]);
});

test("a dependency cycle names its members in order", () => {
  const text = `services:\n  a: { image: x, depends_on: [b] }\n  b: { image: x, depends_on: [c] }\n  c: { image: x, depends_on: [a] }\n`;
  assert.deepEqual(errors(text), ["services: dependency cycle: a -> b -> c -> a"]);
});

test("ports landing on the same offset collide; an explicit offset fixes it", () => {
  const clash = `services:\n  temporal: { image: t, ports: [7233] }\n  ui: { image: t, ports: [8233] }\n`;
  assert.deepEqual(errors(clash), [
    "services.ui.ports[0]: host offset 233 (port 8233) collides with services.temporal port 7233; set an explicit offset",
  ]);
  const fixed = parse(clash.replace("[8233]", "[{ container: 8233, offset: 234 }]"));
  assert.deepEqual(fixed.errors, []);
  assert.deepEqual(fixed.spec?.services[1]?.ports, [
    { container: 8233, offset: 234, protocol: "tcp" },
  ]);
});

test("health http/tcp ports must be ports of the service", () => {
  assert.deepEqual(errors(web(`image: x, ports: [80], health: { http: /healthz, port: 81 }`)), [
    "services.web.health.port: port 81 is not one of the service's ports",
  ]);
  assert.deepEqual(errors(web(`image: x, ports: [80], health: { tcp: 5432 }`)), [
    "services.web.health.tcp: port 5432 is not one of the service's ports",
  ]);
  assert.deepEqual(errors(web(`image: x, health: { http: /healthz }`)), [
    'services.web.health.http: the service publishes no ports; add one to "ports"',
  ]);
});

test("YAML syntax errors give file:line:col", () => {
  const r = parse(`services:\n  web: { image: x\n`);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.path, "");
  assert.match(r.errors[0]!.message, /^\/work\/proj\/envctl\.yaml:3:1: invalid YAML: /);
  assert.deepEqual(errors(`services:\n  a: { image: x }\n  a: { image: y }\n`), [
    "services.a: is defined twice (line 2 and line 3)",
  ]);
  assert.deepEqual(errors(""), ['the spec is empty; it needs a "services" mapping']);
  assert.deepEqual(errors("- web\n"), [
    'the spec must be a mapping with a "services" key, got a list',
  ]);
});

test("a missing file is one document-level issue", () => {
  const file = path.join(os.tmpdir(), `envctl-missing-${process.pid}`, "envctl.yaml");
  assert.deepEqual(loadSpecFile(file), {
    errors: [{ path: "", message: `cannot read ${file}: no such file` }],
    warnings: [],
  });
});

test("normalization fills defaults and resolves paths against the spec's directory", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-spec-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(
    path.join(dir, "envctl.yaml"),
    [
      "repo: ..",
      "services:",
      "  db:",
      "    image: postgres:16",
      "    env: { POSTGRES_PASSWORD: secret, N: 3, FLAG: true }",
      '    ports: ["5432"]',
      '    volumes: ["data:/var/lib/postgresql/data", "./init:/init:ro"]',
      '    health: { command: "pg_isready -U postgres" }',
      "  web:",
      "    build: ./web",
      '    command: "node server.js"',
      "    entrypoint: [tini, --]",
      "    ports: [8080, { container: 9229, offset: 229, protocol: udp }]",
      "    volumes: [{ source: ../shared, target: /shared, read_only: true }]",
      "    health: { http: /healthz, interval: 500ms, timeout: 2, retries: 5, start_period: 1m }",
      "    depends_on: { db: { condition: service_healthy } }",
    ].join("\n"),
  );
  const r = loadSpecFile(path.join(dir, "envctl.yaml"));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, []);
  const expected: EnvSpec = {
    repo: path.dirname(dir),
    root: path.dirname(dir), // not in a git checkout: the repo itself
    base: "HEAD",
    services: [
      {
        name: "db",
        type: "container",
        image: "postgres:16",
        env: { POSTGRES_PASSWORD: "secret", N: "3", FLAG: "true" },
        ports: [{ container: 5432, offset: 432, protocol: "tcp" }],
        volumes: [
          { source: "data", target: "/var/lib/postgresql/data", kind: "volume", readOnly: false },
          { source: path.join(dir, "init"), target: "/init", kind: "bind", readOnly: true },
        ],
        health: {
          kind: "command",
          command: "pg_isready -U postgres",
          intervalMs: 1000,
          timeoutMs: 3000,
          retries: 60,
          startPeriodMs: 0,
        },
        dependsOn: [],
        cold: false,
      },
      {
        name: "web",
        type: "container",
        build: { context: path.join(dir, "web"), dockerfile: "Dockerfile", args: {} },
        command: ["sh", "-c", "node server.js"],
        entrypoint: ["tini", "--"],
        env: {},
        ports: [
          { container: 8080, offset: 80, protocol: "tcp" },
          { container: 9229, offset: 229, protocol: "udp" },
        ],
        volumes: [
          {
            source: path.join(path.dirname(dir), "shared"),
            target: "/shared",
            kind: "bind",
            readOnly: true,
          },
        ],
        health: {
          kind: "http",
          path: "/healthz",
          port: 8080,
          intervalMs: 500,
          timeoutMs: 2000,
          retries: 5,
          startPeriodMs: 60000,
        },
        dependsOn: ["db"],
        cold: false,
      },
    ],
    exports: [],
    init: [],
    initAfter: ["db", "web"],
  };
  assert.deepEqual(r.spec, expected);
});

test("a spec in a subdirectory of its repo: dirs are relative to its place in the worktree", (t) => {
  const repo = makeRepo({ files: { "deploy/dev/envctl.yaml": "" } });
  const other = makeRepo({ files: { "README.md": "x\n" } });
  t.after(() => {
    fs.rmSync(repo, { recursive: true, force: true });
    fs.rmSync(other, { recursive: true, force: true });
  });
  const file = path.join(repo, "deploy", "dev", "envctl.yaml");
  const text = [
    "services:",
    "  db: { build: ./db }",
    "  web: { cmd: ./run.sh, dir: web }",
    "  front: { cmd: npm start, dir: ../../front }",
    "  here: { cmd: ./x }",
    "init: [./seed.sh, { run: make, dir: ../tools }]",
  ].join("\n");
  const r = parseSpecText(text, { file });
  assert.deepEqual(r.errors, []);
  const spec = r.spec!;
  assert.equal(spec.repo, path.dirname(file));
  assert.equal(spec.root, repo, "the worktree mirrors the checkout's top level");
  const dirs = Object.fromEntries(
    spec.services.map((s) => [s.name, s.type === "process" ? s.dir : s.build?.context]),
  );
  assert.deepEqual(dirs, {
    db: path.join(repo, "deploy/dev/db"),
    web: "deploy/dev/web",
    front: "front",
    here: "deploy/dev",
  });
  assert.deepEqual(
    spec.init.map((st) => st.dir),
    ["deploy/dev", "deploy/tools"],
  );
  // A repo elsewhere (or a preset's, the repo envctl runs in): dirs start at its root.
  const elsewhere = `repo: ${other}\nservices:\n  web: { cmd: ./run.sh, dir: web }\ninit: [make]\n`;
  const away = parseSpecText(elsewhere, { file }).spec!;
  assert.equal(away.root, other);
  assert.deepEqual(
    [away.services[0]!.type === "process" && away.services[0]!.dir, away.init[0]!.dir],
    ["web", "."],
  );
  // Leaving the worktree is an error, wherever the spec is.
  const out = parseSpecText(
    "services:\n  x: { cmd: ls, dir: ../../../x }\ninit: [{ run: ls, dir: /tmp }]\n",
    { file },
  );
  assert.deepEqual(out.errors.map(formatIssue), [
    "init.steps[0].dir: must be a path inside the worktree (relative to the spec's directory)",
    "services.x.dir: must be a path inside the worktree (relative to the spec's directory)",
  ]);
});

test("build mapping form and base", () => {
  const r = parse(
    `base: main\nservices:\n  app: { build: { context: ., dockerfile: dev.Dockerfile, args: { V: 2 } } }\n`,
  );
  assert.equal(r.spec?.base, "main");
  assert.equal(r.spec?.repo, "/work/proj");
  const app = r.spec?.services[0];
  assert.equal(app?.type, "container");
  assert.deepEqual(app?.type === "container" ? app.build : undefined, {
    context: "/work/proj",
    dockerfile: "dev.Dockerfile",
    args: { V: "2" },
  });
});

test("warnings: a dependency without a health check, a repeated dependency", () => {
  const r = parse(`services:\n  db: { image: x }\n  web: { image: x, depends_on: [db, db] }\n`);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.spec?.services[1]?.dependsOn, ["db"]);
  assert.deepEqual(r.warnings.map(formatIssue), [
    'services.web.depends_on[0]: "db" has no health check; web starts as soon as db is running',
    'services.web.depends_on[1]: duplicate dependency "db"',
  ]);
});

/** The same object with every key order reversed, recursively. */
function reverseKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reverseKeys) as T;
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reverseKeys(x)]),
    ) as T;
  }
  return v;
}

test("specHash is stable under key order and changes with any field", () => {
  const spec = parse(
    `services:\n  db: { image: x, env: { A: "1", B: "2" }, ports: [5432] }\n  web: { image: y }\n`,
  ).spec!;
  const h = specHash(spec);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(specHash(reverseKeys(spec)), h);
  assert.equal(specHash(structuredClone(spec)), h);
  const changed = structuredClone(spec);
  changed.services[0]!.ports[0]!.offset = 433;
  assert.notEqual(specHash(changed), h);
  const envChanged = structuredClone(spec);
  envChanged.services[0]!.env.B = "3";
  assert.notEqual(specHash(envChanged), h);
});
