import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { importCompose } from "../../lib/spec/compose";
import { formatIssue, loadComposeFiles, parseSpecText } from "../../lib/spec/load";

const FIXTURES = path.join(__dirname, "..", "fixtures", "compose");
const APP = path.join(FIXTURES, "app");
const DUST = path.join(FIXTURES, "dust-hive");

/** Writes `files` into a fresh directory (removed after the test); returns its path. */
function tmpDir(t: TestContext, files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-compose-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** importCompose of one `compose.yml` holding `text`. */
function importText(t: TestContext, text: string, extra: Record<string, string> = {}) {
  const dir = tmpDir(t, { "compose.yml": text, ...extra });
  return { dir, ...importCompose([path.join(dir, "compose.yml")]) };
}

const issues = (list: { path: string; message: string }[]): string[] => list.map(formatIssue);

/** Sets process.env entries for one test and restores them after. */
function withEnv(t: TestContext, vars: Record<string, string | undefined>): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>): void => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  apply(vars);
  t.after(() => apply(saved));
}

describe("dust-hive's base compose plus its per-env override", () => {
  const files = [
    path.join(DUST, "docker-compose.dust-hive.yml"),
    path.join(DUST, "docker-compose.override.yml"),
  ];

  test("published ports give dust-hive's offsets", () => {
    const r = loadComposeFiles(files);
    assert.deepEqual(r.errors, []);
    const ports = Object.fromEntries(
      r.spec!.services.map((s) => [s.name, s.ports.map((p) => `${p.container}+${p.offset}`)]),
    );
    assert.deepEqual(ports, {
      db: ["5432+432"],
      redis: ["6379+379"],
      "qdrant-primary": ["6334+334", "6333+333"],
      "qdrant-secondary": [],
      elasticsearch: ["9200+200"],
      "apache-tika": ["9998+998"],
    });
  });

  test("healthchecks become command checks with the compose timings", () => {
    const r = loadComposeFiles(files);
    const health = Object.fromEntries(r.spec!.services.map((s) => [s.name, s.health]));
    assert.deepEqual(health.db, {
      kind: "command",
      command: "pg_isready -U dev",
      intervalMs: 5000,
      timeoutMs: 5000,
      retries: 5,
      startPeriodMs: 0,
    });
    assert.equal(health.redis?.command, "redis-cli ping");
    assert.deepEqual(
      [health["qdrant-primary"]?.timeoutMs, health["qdrant-primary"]?.startPeriodMs],
      [10000, 10000],
    );
    assert.equal(
      health.elasticsearch?.command,
      "curl -sf http://localhost:9200/_cluster/health || exit 1",
    );
    assert.equal(health["qdrant-secondary"], undefined);
  });

  test("the override's volumes, env list form, dependencies and ignored keys", () => {
    const r = loadComposeFiles(files);
    const svc = (name: string) => r.spec!.services.find((s) => s.name === name)!;
    const db = svc("db");
    assert.ok(db.type === "container");
    assert.deepEqual(db.volumes, [
      {
        source: "dust-hive-env-1-pgsql",
        target: "/var/lib/postgresql/data",
        kind: "volume",
        readOnly: false,
      },
    ]);
    assert.deepEqual(svc("elasticsearch").env, { "xpack.security.enabled": "false" });
    assert.deepEqual(svc("qdrant-secondary").dependsOn, ["qdrant-primary"]);
    const primary = svc("qdrant-primary");
    assert.ok(primary.type === "container");
    assert.deepEqual(primary.command, ["./qdrant", "--uri", "http://qdrant-primary:6335"]);
    assert.deepEqual(primary.ulimits, { nofile: { soft: 64000, hard: 64000 } });
    assert.deepEqual(issues(r.warnings), [
      `docker-compose.dust-hive.yml: services.db.restart: "restart" is ignored: envctl starts and stops services with the env's state`,
    ]);
  });
});

describe("merging an override file", () => {
  const files = [
    path.join(APP, "docker-compose.yml"),
    path.join(APP, "docker-compose.override.yml"),
  ];

  test("environment: env_file < environment, later files win by key, list form is KEY=VALUE", () => {
    const r = loadComposeFiles(files);
    assert.deepEqual(r.errors, []);
    const db = r.spec!.services.find((s) => s.name === "db")!;
    assert.deepEqual(db.env, {
      POSTGRES_USER: "shop",
      POSTGRES_PASSWORD: "from-override",
      PGDATA: "/var/lib/postgresql/data/pg dir",
      GREETING: "hello # not a comment",
      TIMEZONE: "UTC",
      POSTGRES_DB: "shop",
      LOG_LEVEL: "debug",
    });
    const web = r.spec!.services.find((s) => s.name === "web")!;
    assert.deepEqual(web.env, { NODE_ENV: "test", API_URL: "http://db:5432" });
  });

  test("volumes merge by target in place; relative binds resolve against the compose dir", () => {
    const db = importCompose(files).services.db!;
    assert.deepEqual(db.volumes, [
      { source: "pgdata-fast", target: "/var/lib/postgresql/data", read_only: false },
      {
        source: path.join(APP, "ops", "initdb"),
        target: "/docker-entrypoint-initdb.d",
        read_only: true,
      },
      { source: "/var/run/postgres.sock", target: "/run/postgres.sock", read_only: false },
    ]);
  });

  test("ports concatenate without duplicates; command is replaced; healthcheck merges", () => {
    const { services } = importCompose(files);
    assert.deepEqual(services.db!.ports, [{ container: 5432, offset: 432, protocol: "tcp" }]);
    assert.deepEqual(services.web!.ports, [
      { container: 8080, offset: 80, protocol: "tcp" },
      { container: 9229, offset: 229, protocol: "tcp" },
    ]);
    assert.deepEqual(services.web!.command, ["npm", "run", "dev"]);
    assert.deepEqual(services.db!.health, {
      command: "pg_isready -U shop",
      interval: "500ms",
      timeout: "1m30s",
      retries: 30,
    });
  });

  test("build: string -> absolute context, args merged; depends_on merged into the map form", () => {
    const r = loadComposeFiles(files);
    const web = r.spec!.services.find((s) => s.name === "web")!;
    assert.ok(web.type === "container");
    assert.deepEqual(web.build, {
      context: path.join(APP, "web"),
      dockerfile: "Dockerfile",
      args: { NODE_VERSION: "20" },
    });
    assert.deepEqual(importCompose(files).services.web!.depends_on, {
      db: { condition: "service_healthy" },
    });
    assert.deepEqual(web.dependsOn, ["db"]);
  });

  test("keys envctl ignores are warnings naming the key; x-* keys are silent", () => {
    assert.deepEqual(issues(importCompose(files).warnings), [
      'docker-compose.yml: version: "version" is ignored: compose itself no longer reads it',
      `docker-compose.yml: name: "name" is ignored: envctl names each env's project itself`,
      'docker-compose.yml: networks: "networks" is ignored: each env has one network, where service names resolve',
      'docker-compose.yml: services.db.container_name: "container_name" is ignored: envctl names containers per env',
      `docker-compose.yml: services.db.logging: "logging" is ignored: envctl keeps each service's log with the env`,
      "docker-compose.yml: services.web.ports[0]: host address 127.0.0.1 is ignored: envctl publishes the env's ports itself",
      'docker-compose.yml: services.web.networks: "networks" is ignored: each env has one network, where service names resolve',
    ]);
  });

  test("an override in another directory resolves paths against the first file's directory", (t) => {
    const dir = tmpDir(t, {
      "compose.yml": "services:\n  web: { image: x }\n",
      "envs/override.yml": "services:\n  web: { volumes: ['./src:/src'], env_file: web.env }\n",
      "web.env": "A=1\n",
    });
    const r = importCompose([path.join(dir, "compose.yml"), path.join(dir, "envs/override.yml")]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.services.web, {
      image: "x",
      env: { A: "1" },
      volumes: [{ source: path.join(dir, "src"), target: "/src", read_only: false }],
    });
  });
});

test("short and long port syntax", (t) => {
  const r = importText(
    t,
    `services:
  web:
    image: x
    ports:
      - "5432"
      - "10432:5432"
      - 9229
      - "15433:5432"
      - "127.0.0.1:8081:80"
      - "8053:53/udp"
      - "13000-13001:3000-3001"
      - "9090-9091:8080"
      - "7000-7001"
      - "0.0.0.0::6000"
      - { target: 8443, published: "18444", protocol: tcp, mode: host }
      - { target: 9000 }
`,
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    (r.services.web!.ports as { container: number; offset: number; protocol: string }[]).map(
      (p) => `${p.container}/${p.protocol}+${p.offset}`,
    ),
    [
      "5432/tcp+432",
      "9229/tcp+229",
      "5432/tcp+433",
      "80/tcp+81",
      "53/udp+53",
      "3000/tcp+0",
      "3001/tcp+1",
      "8080/tcp+90",
      "7000/tcp+0",
      "7001/tcp+1",
      "6000/tcp+0",
      "8443/tcp+444",
      "9000/tcp+0",
    ],
  );
});

test("malformed ports are errors at their entry", (t) => {
  const r = importText(
    t,
    `services:
  web:
    image: x
    ports: ["http", "70000", "80/sctp", "1000-1002:80-81", { published: 80 }, [80]]
`,
  );
  assert.deepEqual(issues(r.errors), [
    'compose.yml: services.web.ports[0]: must be "[HOST:]CONTAINER[/PROTOCOL]" like "5432" or "10432:5432", got "http"',
    "compose.yml: services.web.ports[1]: ports must be 1..65535, got 70000",
    'compose.yml: services.web.ports[2]: protocol "sctp" is not supported (tcp or udp)',
    "compose.yml: services.web.ports[3]: the published range has 3 ports, the container range 2",
    "compose.yml: services.web.ports[4].target: required: the container port",
    "compose.yml: services.web.ports[5]: must be a port string, number or mapping, got a list",
  ]);
});

test("volumes: long syntax, anonymous volumes, undeclared and external volumes", (t) => {
  const r = importText(
    t,
    `services:
  db:
    image: x
    volumes:
      - /data
      - type: volume
        source: cache
        target: /cache
        read_only: true
      - { type: bind, source: ./conf, target: /etc/conf }
      - { type: volume, target: /scratch }
      - missing:/m
      - { type: tmpfs, target: /tmp }
volumes:
  cache:
  shared: { external: true }
`,
  );
  assert.deepEqual(r.services.db!.volumes, [
    { source: "db-anon-1", target: "/data", read_only: false },
    { source: "cache", target: "/cache", read_only: true },
    { source: path.join(r.dir, "conf"), target: "/etc/conf", read_only: false },
    { source: "db-anon-2", target: "/scratch", read_only: false },
    { source: "missing", target: "/m", read_only: false },
  ]);
  assert.deepEqual(issues(r.errors), [
    `compose.yml: volumes.shared.external: external volumes are not supported: envctl creates each env's volumes`,
    'compose.yml: services.db.volumes[5].type: "tmpfs" mounts are not supported by envctl (volume or bind)',
    'compose.yml: services.db.volumes[4]: volume "missing" is not declared in the top-level "volumes"',
  ]);
  assert.deepEqual(issues(r.warnings), [
    'compose.yml: services.db.volumes[0]: anonymous volume at /data becomes the named volume "db-anon-1", kept with the env',
    'compose.yml: services.db.volumes[3]: anonymous volume at /scratch becomes the named volume "db-anon-2", kept with the env',
  ]);
});

describe("healthcheck", () => {
  const health = (t: TestContext, hc: string) => {
    const r = importText(t, `services:\n  s:\n    image: x\n    healthcheck: ${hc}\n`);
    return { health: r.services.s?.health, errors: issues(r.errors), warnings: issues(r.warnings) };
  };

  test("CMD args are shell-quoted when they need it; CMD-SHELL and strings are shell commands", (t) => {
    assert.deepEqual(health(t, `{ test: ["CMD", "sh", "-c", "echo it's ok", ""] }`).health, {
      command: `sh -c 'echo it'\\''s ok' ''`,
    });
    assert.deepEqual(health(t, `{ test: ["CMD", "curl", "-f", "http://l:80/h?a=1"] }`).health, {
      command: "curl -f 'http://l:80/h?a=1'",
    });
    assert.deepEqual(health(t, `{ test: "pg_isready || exit 1" }`).health, {
      command: "pg_isready || exit 1",
    });
  });

  test('["NONE"] and disable: true turn it off; no test is a warning', (t) => {
    assert.equal(health(t, `{ test: ["NONE"] }`).health, undefined);
    assert.equal(health(t, `{ test: "true", disable: true }`).health, undefined);
    const noTest = health(t, `{ interval: 5s }`);
    assert.equal(noTest.health, undefined);
    assert.deepEqual(noTest.warnings, [
      `compose.yml: services.s.healthcheck: has no "test" and envctl cannot see the image's HEALTHCHECK; set health in envctl.yaml`,
    ]);
  });

  test("durations: envctl's form is kept, other Go units are converted, bad ones are errors", (t) => {
    assert.deepEqual(
      health(t, `{ test: "true", interval: 1m30s, timeout: 1500us, start_period: "0", retries: 2 }`)
        .health,
      { command: "true", interval: "1m30s", timeout: "1.5ms", start_period: "0s", retries: 2 },
    );
    assert.deepEqual(health(t, `{ test: [FOO, x], interval: 5 minutes, retries: 0 }`).errors, [
      'compose.yml: services.s.healthcheck.test: must be a command, or a list starting with "CMD", "CMD-SHELL" or "NONE"',
      'compose.yml: services.s.healthcheck.interval: must be a duration like "5s" or "1m30s", got "5 minutes"',
      "compose.yml: services.s.healthcheck.retries: must be a whole number of at least 1, got number 0",
    ]);
  });

  test("converted durations pass envctl's schema", (t) => {
    const dir = tmpDir(t, {
      "compose.yml": `services:\n  s:\n    image: x\n    healthcheck: { test: "true", interval: 250ms, timeout: 2500000ns, start_period: 1h1m }\n`,
    });
    const r = loadComposeFiles([path.join(dir, "compose.yml")]);
    assert.deepEqual(r.errors, []);
    const h = r.spec!.services[0]!.health!;
    assert.deepEqual([h.intervalMs, h.timeoutMs, h.startPeriodMs], [250, 3, 3_660_000]);
  });
});

test("depends_on: list form, conditions, and service_completed_successfully", (t) => {
  const r = importText(
    t,
    `services:
  a: { image: x, depends_on: [b] }
  b: { image: x, depends_on: { c: { condition: service_started }, d: null } }
  c: { image: x, depends_on: { d: { condition: service_completed_successfully, restart: true } } }
  d: { image: x }
`,
  );
  assert.deepEqual(r.services.a!.depends_on, ["b"]);
  assert.deepEqual(r.services.b!.depends_on, { c: { condition: "service_started" }, d: {} });
  assert.deepEqual(issues(r.errors), [
    'compose.yml: services.c.depends_on.d.condition: "service_completed_successfully" is not supported by envctl: services run until stopped; use init steps for one-off jobs',
  ]);
  assert.deepEqual(issues(r.warnings), [
    'compose.yml: services.c.depends_on.d.restart: "restart" is ignored: envctl always waits for dependencies and never restarts dependents',
  ]);
});

test("keys envctl cannot honour are errors naming them", (t) => {
  const r = importText(
    t,
    `services:
  db:
    privileged: true
    cap_add: [NET_ADMIN]
    deploy: { replicas: 2 }
    network_mode: host
    build: { context: ., target: dev }
    x-note: fine
secrets:
  token: { file: ./token }
x-anchors: {}
`,
  );
  assert.deepEqual(issues(r.errors), [
    "compose.yml: secrets: not supported by envctl",
    "compose.yml: services.db.privileged: not supported by envctl",
    "compose.yml: services.db.cap_add: not supported by envctl",
    "compose.yml: services.db.deploy: not supported by envctl",
    "compose.yml: services.db.network_mode: not supported by envctl",
    "compose.yml: services.db.build.target: not supported by envctl",
  ]);
  assert.deepEqual(r.warnings, []);
});

test("loadComposeFiles reports import errors by compose file, not as schema errors", (t) => {
  const dir = tmpDir(t, { "compose.yml": "services:\n  db: { image: x, profiles: [dev] }\n" });
  assert.deepEqual(loadComposeFiles([path.join(dir, "compose.yml")]), {
    errors: [
      { file: "compose.yml", path: "services.db.profiles", message: "not supported by envctl" },
    ],
    warnings: [],
  });
});

test("malformed documents: YAML syntax, non-mapping services, invalid service names", (t) => {
  const yaml = importText(t, "services:\n  db: { image: x\n");
  assert.equal(yaml.errors.length, 1);
  const { message, ...where } = yaml.errors[0]!;
  assert.deepEqual(where, { file: "compose.yml", path: "", line: 3, column: 1 });
  assert.match(message, /^invalid YAML: /);
  assert.match(issues(yaml.errors)[0]!, /^compose\.yml:3:1: invalid YAML: /);
  assert.deepEqual(
    issues(importText(t, "services:\n  db: postgres\n  qdrant_primary: { image: q }\n").errors),
    [
      'compose.yml: services.db: must be a mapping, got "postgres"',
      'compose.yml: services.qdrant_primary: envctl service names are a lowercase letter, then lowercase letters, digits or "-" (at most 31 characters); rename it (e.g. "qdrant-primary")',
    ],
  );
  assert.deepEqual(issues(importText(t, "volumes: {}\n").errors), [
    "compose.yml: no services defined",
  ]);
  assert.deepEqual(issues(importText(t, "").errors), [
    'compose.yml: the file is empty; it needs a "services" mapping',
  ]);
});

describe("environment and env_file", () => {
  test("a value-less KEY takes process.env or is dropped with a warning", (t) => {
    withEnv(t, { ENVCTL_T_SET: "from-shell", ENVCTL_T_UNSET: undefined });
    const r = importText(
      t,
      `services:
  a: { image: x, environment: [ENVCTL_T_SET, ENVCTL_T_UNSET, "EMPTY=", "EQ=a=b"] }
  b: { image: x, environment: { ENVCTL_T_SET: null, N: 3, B: true } }
`,
    );
    assert.deepEqual(r.services.a!.env, { ENVCTL_T_SET: "from-shell", EMPTY: "", EQ: "a=b" });
    assert.deepEqual(r.services.b!.env, { ENVCTL_T_SET: "from-shell", N: "3", B: "true" });
    assert.deepEqual(issues(r.warnings), [
      'compose.yml: services.a.environment[1]: "ENVCTL_T_UNSET" has no value and is not set in the environment; dropped',
    ]);
  });

  test("env files: quotes, escapes, export, comments; later files win; required files must exist", (t) => {
    const r = importText(
      t,
      `services:
  a:
    image: x
    env_file: [one.env, { path: two.env }, { path: absent.env, required: false }]
  b: { image: x, env_file: absent.env }
`,
      {
        "one.env": `A=1\nB="two\\nlines"\nexport C='lit $A'\nD=$A-x # note\n\n# comment\n`,
        "two.env": "A=override\nbad line\n",
      },
    );
    assert.deepEqual(r.services.a!.env, { A: "override", B: "two\nlines", C: "lit $A", D: "1-x" });
    assert.deepEqual(issues(r.errors), [
      "two.env:2: must be KEY=VALUE",
      `compose.yml: services.b.env_file: cannot read ${path.join(r.dir, "absent.env")}: no such file`,
    ]);
  });
});

describe("variable interpolation", () => {
  test("$VAR, ${VAR}, defaults, alternatives, nesting and $$", (t) => {
    withEnv(t, { ENVCTL_T_TAG: "16", ENVCTL_T_EMPTY: "", ENVCTL_T_NO: undefined });
    const r = importText(
      t,
      `services:
  db:
    image: "postgres:\${ENVCTL_T_TAG}"
    environment:
      A: "$ENVCTL_T_TAG-alpine"
      B: "\${ENVCTL_T_EMPTY:-fallback}"
      C: "[\${ENVCTL_T_EMPTY-kept-empty}]"
      D: "\${ENVCTL_T_NO:-\${ENVCTL_T_TAG}x}"
      E: "\${ENVCTL_T_TAG:+set}\${ENVCTL_T_NO+never}"
      F: "cost: $$5 and $$HOME"
      G: "[$ENVCTL_T_NO]"
      H: "[\${ENVCTL_T_NO}]"
    ports: ["\${ENVCTL_T_PORT:-10432}:5432"]
`,
    );
    assert.equal(r.services.db!.image, "postgres:16");
    assert.deepEqual(r.services.db!.env, {
      A: "16-alpine",
      B: "fallback",
      C: "[]",
      D: "16x",
      E: "set",
      F: "cost: $5 and $HOME",
      G: "[]",
      H: "[]",
    });
    assert.deepEqual(r.services.db!.ports, [{ container: 5432, offset: 432, protocol: "tcp" }]);
    assert.deepEqual(issues(r.warnings), [
      'compose.yml: services.db.environment.G: variable ENVCTL_T_NO is not set; using ""',
      'compose.yml: services.db.environment.H: variable ENVCTL_T_NO is not set; using ""',
    ]);
  });

  test("the project's .env feeds interpolation and bare keys; the shell wins over it", (t) => {
    withEnv(t, { ENVCTL_T_TAG: undefined, ENVCTL_T_USER: "shell-user", ENVCTL_T_PORT: undefined });
    const r = importText(
      t,
      `services:
  db:
    image: "postgres:\${ENVCTL_T_TAG}"
    environment: [ENVCTL_T_USER, ENVCTL_T_PORT, "URL=db:\${ENVCTL_T_PORT}"]
    ports: ["\${ENVCTL_T_PORT}:5432"]
`,
      {
        ".env":
          '# project defaults\nENVCTL_T_TAG=16\nENVCTL_T_USER=dotenv-user\nENVCTL_T_PORT="15${ENVCTL_T_TAG}"\n',
      },
    );
    assert.equal(r.services.db!.image, "postgres:16");
    assert.deepEqual(r.services.db!.env, {
      ENVCTL_T_USER: "shell-user",
      ENVCTL_T_PORT: "1516",
      URL: "db:1516",
    });
    assert.deepEqual(r.services.db!.ports, [{ container: 5432, offset: 516, protocol: "tcp" }]);
    assert.deepEqual(issues(r.errors), []);
    assert.deepEqual(issues(r.warnings), []);
  });

  test("a broken .env line is an error naming .env and its line; no .env is fine", (t) => {
    const bad = importText(t, "services:\n  a: { image: x }\n", { ".env": "OK=1\nnot a pair\n" });
    assert.deepEqual(issues(bad.errors), [".env:2: must be KEY=VALUE"]);
    const none = importText(t, "services:\n  a: { image: x }\n");
    assert.deepEqual(issues(none.errors), []);
  });

  test("${VAR:?message} and a broken reference are errors", (t) => {
    withEnv(t, { ENVCTL_T_NO: undefined });
    const r = importText(
      t,
      `services:\n  db: { image: "\${ENVCTL_T_NO:?set the tag}", command: "echo \${oops" }\n`,
    );
    assert.deepEqual(issues(r.errors), [
      "compose.yml: services.db.image: variable ENVCTL_T_NO is required: set the tag",
      'compose.yml: services.db.command: unclosed "${" in "echo ${oops"',
    ]);
  });
});

test("command and entrypoint strings split into words as compose does", (t) => {
  const r = importText(
    t,
    `services:
  r:
    image: redis
    command: redis-server --save "" --appendonly 'yes please' a\\ b
    entrypoint: /docker-entrypoint.sh
`,
  );
  assert.deepEqual(r.services.r!.command, [
    "redis-server",
    "--save",
    "",
    "--appendonly",
    "yes please",
    "a b",
  ]);
  assert.deepEqual(r.services.r!.entrypoint, ["/docker-entrypoint.sh"]);
  const open = importText(t, `services:\n  r: { image: redis, command: 'echo "open' }\n`);
  assert.deepEqual(issues(open.errors), [
    'compose.yml: services.r.command: unterminated quote in "echo \\"open"',
  ]);
});

test("build mapping: context, dockerfile and list args; image next to build is dropped", (t) => {
  withEnv(t, { ENVCTL_T_ARG: "from-shell" });
  const r = importText(
    t,
    `services:
  app:
    image: registry.example/app:dev
    build:
      context: ./src
      dockerfile: dev.Dockerfile
      args: [VERSION=2, ENVCTL_T_ARG]
  remote: { build: "https://github.com/x/y.git" }
`,
  );
  assert.deepEqual(r.services.app, {
    build: {
      context: path.join(r.dir, "src"),
      dockerfile: "dev.Dockerfile",
      args: { VERSION: "2", ENVCTL_T_ARG: "from-shell" },
    },
  });
  assert.deepEqual(issues(r.warnings), [
    'compose.yml: services.app.image: "image" is ignored next to "build": envctl tags the images it builds',
  ]);
  assert.deepEqual(issues(r.errors), [
    "compose.yml: services.remote.build: remote build contexts are not supported; clone it and use a path",
  ]);
});

describe("compose: in envctl.yaml", () => {
  test("envctl.yaml services override imported fields and add process services", () => {
    const r = parseSpecText(
      [
        "compose: [docker-compose.dust-hive.yml, docker-compose.override.yml]",
        "services:",
        "  redis:",
        "    ports: [{ container: 6379, offset: 379 }]",
        "    health: { tcp: 6379, interval: 250ms }",
        "  web:",
        "    type: process",
        "    cmd: npm run dev",
        "    ports: [{ container: 3000, offset: 0 }]",
        "    depends_on: [db, redis]",
      ].join("\n"),
      { file: path.join(DUST, "envctl.yaml") },
    );
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.spec!.services.map((s) => s.name),
      ["db", "redis", "qdrant-primary", "qdrant-secondary", "elasticsearch", "apache-tika", "web"],
    );
    const redis = r.spec!.services[1]!;
    assert.ok(redis.type === "container");
    assert.equal(redis.image, "redis");
    assert.deepEqual(redis.health, {
      kind: "tcp",
      port: 6379,
      intervalMs: 250,
      timeoutMs: 3000,
      retries: 60,
      startPeriodMs: 0,
    });
    const web = r.spec!.services[6]!;
    assert.deepEqual([web.type, web.dependsOn], ["process", ["db", "redis"]]);
    assert.deepEqual(r.spec!.initAfter, [
      "db",
      "redis",
      "qdrant-primary",
      "qdrant-secondary",
      "elasticsearch",
      "apache-tika",
    ]);
  });

  test("an imported service that breaks envctl's rules is reported by the schema", (t) => {
    const dir = tmpDir(t, {
      "docker-compose.yml":
        "services:\n  temporal: { image: t, ports: [7233] }\n  ui: { image: t, ports: [8233] }\n",
    });
    const r = parseSpecText("compose: docker-compose.yml\n", {
      file: path.join(dir, "envctl.yaml"),
    });
    assert.deepEqual(issues(r.errors), [
      "services.ui.ports[0]: host offset 233 (port 8233) collides with services.temporal port 7233; set an explicit offset",
    ]);
  });
});
