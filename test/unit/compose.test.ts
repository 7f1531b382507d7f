/**
 * The compose import around Docker Compose: mapProject on projects as `config --format json`
 * prints them (no Compose needed), Compose's errors located, the cache of Compose's output, and
 * whole loads of the fixtures (test/unit/compose-oracle.test.ts compares every field against
 * Compose itself).
 */
import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { duration, IGNORED_SERVICE_KEYS, importCompose, mapProject } from "../../lib/spec/compose";
import {
  composeConfig,
  composeError,
  COMPOSE_MISSING,
  findCompose,
  type ComposeProject,
} from "../../lib/spec/compose/reference";
import { formatIssue, loadComposeFiles, parseSpecText } from "../../lib/spec/load";

const FIXTURES = path.join(__dirname, "..", "fixtures", "compose");
const APP = path.join(FIXTURES, "app");
const DUST = path.join(FIXTURES, "dust-hive");
const HAVE_COMPOSE = findCompose() !== undefined;
const needsCompose = { skip: !HAVE_COMPOSE && "Docker Compose v2 not found" };

/** Writes `files` into a fresh directory (removed after the test); returns its path. */
function tmpDir(t: TestContext, files: Record<string, string> = {}): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "envctl-compose-")));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const issues = (list: { path: string; message: string }[]): string[] => list.map(formatIssue);

/** mapProject of services (and top-level keys) as Compose prints them. */
function map(
  services: Record<string, Record<string, unknown>>,
  top: Partial<ComposeProject> = {},
  env = {},
) {
  return mapProject({ services, ...top }, env);
}
const IMG = { image: "busybox" };

describe("mapProject: every key is mapped, a warning or an error", () => {
  test("each key envctl ignores is a warning naming it; x- keys are silent", () => {
    const svc = Object.fromEntries(Object.keys(IGNORED_SERVICE_KEYS).map((k) => [k, "x"]));
    const r = map({ web: { ...IMG, ...svc, "x-team": "core" } });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.warnings.map((w) => w.path),
      Object.keys(IGNORED_SERVICE_KEYS).map((k) => `services.web.${k}`),
    );
    assert.match(
      formatIssue(r.warnings[0]!),
      /^services\.web\.container_name: "container_name" is ignored: envctl names containers/,
    );
  });

  test("a key envctl does not know is an error; a service needs an image or a build", () => {
    const r = map({ web: { ...IMG, frobnicate: true }, bare: { command: ["true"] } });
    assert.deepEqual(issues(r.errors), [
      "services.web.frobnicate: not supported by envctl",
      'services.bare: one of "image" or "build" is required',
    ]);
  });

  test("no services (none in the active profiles) is an error", () => {
    assert.deepEqual(issues(map({}).errors), [
      "services: no services defined (or none in the active profiles)",
    ]);
  });

  test("runtime options go to docker: as Compose prints them, sizes as bytes", () => {
    const r = map({
      web: {
        ...IMG,
        privileged: true,
        cap_add: ["NET_ADMIN"],
        shm_size: "67108864",
        mem_swappiness: "10",
        restart: "always",
        devices: [{ source: "/dev/fuse", target: "/dev/fuse", permissions: "rwm" }],
        networks: { default: null, back: { aliases: ["api"], link_local_ips: ["169.254.0.2"] } },
      },
    });
    assert.deepEqual(r.services.web!.docker, {
      privileged: true,
      cap_add: ["NET_ADMIN"],
      shm_size: 67108864,
      mem_swappiness: 10,
      restart: "always",
      devices: ["/dev/fuse:/dev/fuse:rwm"],
      networks: { default: null, back: { aliases: ["api"] } },
    });
    assert.deepEqual(
      r.warnings.map((w) => w.path),
      ["services.web.networks.back.link_local_ips"],
    );
  });

  test("environment: a variable Compose leaves unset is not passed; empty lists keep the image's", () => {
    const r = map({
      web: {
        ...IMG,
        environment: { A: "1", UNSET: null, EMPTY: "" },
        command: [],
        entrypoint: null,
      },
    });
    assert.deepEqual(r.services.web!.env, { A: "1", EMPTY: "" });
    assert.equal(r.services.web!.command, undefined);
    assert.deepEqual(issues(r.warnings), [
      "services.web.command: an empty list keeps the image's own (envctl cannot clear it)",
    ]);
  });
});

describe("mapProject: ports", () => {
  const port = (target: number, published?: string, protocol = "tcp", extra = {}) => ({
    mode: "ingress",
    target,
    protocol,
    ...(published !== undefined ? { published } : {}),
    ...extra,
  });
  const offsets = (r: ReturnType<typeof map>) =>
    Object.fromEntries(
      Object.entries(r.services).map(([n, s]) => [
        n,
        ((s.ports ?? []) as { container: number; offset: number; protocol: string }[]).map(
          (p) => `${p.container}/${p.protocol}+${p.offset}`,
        ),
      ]),
    );

  test("published ports take published % 1000 first, in file order; the others the next free offset", () => {
    const r = map({
      a: { ...IMG, ports: [port(80), port(8080), port(3000, "13000")] },
      b: {
        ...IMG,
        ports: [port(80, "10080"), port(53, "8053", "udp"), port(53, undefined, "udp"), port(53)],
      },
    });
    assert.deepEqual(offsets(r), {
      a: ["80/tcp+81", "8080/tcp+82", "3000/tcp+0"],
      b: ["80/tcp+80", "53/udp+53", "53/udp+54", "53/tcp+53"],
    });
    assert.deepEqual(r.warnings, []);
  });

  test("a published port whose offset is taken moves to the next free one, with a warning", () => {
    const r = map({
      a: { ...IMG, ports: [port(7233, "7233"), port(8233, "8233"), port(9000, "9090-9091")] },
    });
    assert.deepEqual(offsets(r), { a: ["7233/tcp+233", "8233/tcp+234", "9000/tcp+90"] });
    assert.deepEqual(issues(r.warnings), [
      "services.a.ports[1]: host port 8233 would land on offset 233, which another port has; it gets offset 234",
    ]);
  });

  test("host addresses: every address (0.0.0.0) is the default; others are kept, brackets off", () => {
    const r = map({
      a: {
        ...IMG,
        ports: [
          port(1, "1", "tcp", { host_ip: "0.0.0.0" }),
          port(2, "2", "tcp", { host_ip: "[::1]" }),
          port(3, "3", "tcp", { host_ip: "::" }),
        ],
      },
    });
    assert.deepEqual(
      (r.services.a!.ports as { host_ip?: string }[]).map((p) => p.host_ip),
      [undefined, "::1", "::"],
    );
  });

  test("not published with several replicas or another network mode; those take no offset", () => {
    const r = map({
      a: { ...IMG, deploy: { replicas: 3 }, ports: [port(80, "8080")] },
      b: { ...IMG, network_mode: "host", ports: [port(80, "8080")] },
      c: { ...IMG, ports: [port(80, "10080")] },
    });
    assert.deepEqual(offsets(r), { a: [], b: [], c: ["80/tcp+80"] });
    assert.deepEqual(issues(r.warnings), [
      'services.a.ports: not published: 3 replicas are reached by the name "a" on the env\'s network',
      'services.b.ports: ports are not published with network_mode "host": the container uses that network\'s ports',
    ]);
  });

  test("sctp is an error; swarm's host mode is a warning", () => {
    const r = map({
      a: { ...IMG, ports: [port(80, "80", "sctp"), { ...port(81, "81"), mode: "host" }] },
    });
    assert.deepEqual(issues(r.errors), [
      'services.a.ports[0].protocol: "sctp" is not supported (tcp or udp)',
    ]);
    assert.deepEqual(issues(r.warnings), [
      'services.a.ports[1].mode: "mode: host" is a swarm setting; the port is published as usual',
    ]);
  });
});

describe("mapProject: volumes, secrets and configs", () => {
  test("mount kinds; anonymous volumes get a name kept with the env; what cannot be honoured", () => {
    const r = map({
      db: {
        ...IMG,
        volumes: [
          { type: "volume", target: "/data", volume: {} },
          {
            type: "bind",
            source: "/srv/conf",
            target: "/conf",
            read_only: true,
            bind: { create_host_path: true, propagation: "rshared" },
          },
          { type: "tmpfs", target: "/tmp", tmpfs: { size: "1048576", mode: 1023 } },
          {
            type: "volume",
            source: "cache",
            target: "/cache",
            volume: { nocopy: true, subpath: "x" },
          },
          { type: "npipe", source: "//./pipe/x", target: "/pipe" },
        ],
      },
    });
    assert.deepEqual(r.services.db!.volumes, [
      { type: "volume", target: "/data", source: "db-anon-1" },
      { type: "bind", target: "/conf", source: "/srv/conf", read_only: true },
      { type: "tmpfs", target: "/tmp", tmpfs: { size: 1048576, mode: 1023 } },
      { type: "volume", target: "/cache", source: "cache", nocopy: true },
    ]);
    assert.deepEqual(issues(r.errors), [
      "services.db.volumes[3].volume.subpath: volume subpaths need Docker 26 or later, which envctl does not require",
      'services.db.volumes[4].type: "npipe" mounts are not supported (volume, bind or tmpfs)',
    ]);
    assert.deepEqual(issues(r.warnings), [
      'services.db.volumes[0]: anonymous volume at /data becomes the named volume "db-anon-1", kept with the env',
      'services.db.volumes[1].bind.propagation: "propagation" is ignored for bind mounts',
    ]);
  });

  test("secrets and configs: files are bound read-only, values and variables written in", () => {
    const r = map(
      {
        app: {
          ...IMG,
          secrets: [
            { source: "token", target: "/run/secrets/token" },
            { source: "pw", target: "db_pw", mode: "0400" },
          ],
          configs: [{ source: "motd" }, { source: "gone" }],
        },
        other: { ...IMG, secrets: [{ source: "unset" }, { source: "vault" }] },
      },
      {
        secrets: {
          token: { file: "/p/token.txt" },
          pw: { environment: "PW" },
          unset: { environment: "NOPE" },
          vault: { external: true },
        },
        configs: { motd: { content: "hi\n" } },
      },
      { PW: "s3cr$$t" },
    );
    assert.deepEqual(r.services.app!.volumes, [
      { type: "bind", source: "/p/token.txt", target: "/run/secrets/token", read_only: true },
    ]);
    assert.deepEqual(r.services.app!.files, [
      { target: "/run/secrets/db_pw", content: "s3cr$$t", mode: 0o400 },
      { target: "/motd", content: "hi\n" },
    ]);
    assert.deepEqual(issues(r.errors), [
      'services.app.configs[1]: config "gone" is not declared',
      'services.other.secrets[0]: secret "unset" reads $NOPE, which is not set',
      'services.other.secrets[1]: external secrets live in a swarm; give "vault" a file or environment source',
    ]);
  });

  test("top-level volumes and networks: what envctl keeps, what it warns about", () => {
    const r = map(
      { app: IMG },
      {
        volumes: {
          data: { name: "envctl_data" },
          old: { name: "legacy", external: true },
          nfs: { name: "envctl_nfs", driver_opts: { type: "nfs" }, labels: { k: "v" } },
          fixed: { name: "shared-name" },
        },
        networks: {
          default: { name: "envctl_default", ipam: {} },
          back: { name: "envctl_back", ipam: {}, internal: true },
          ext: { name: "corp", external: true },
        },
      },
    );
    assert.deepEqual(r.volumes, {
      old: { external: true, name: "legacy" },
      nfs: { driver_opts: { type: "nfs" }, labels: { k: "v" } },
    });
    assert.deepEqual(r.networks, ["back", "ext"]);
    assert.deepEqual(
      r.warnings.map((w) => w.path),
      ["volumes.fixed.name", "networks.back.internal", "networks.ext.external"],
    );
  });
});

describe("mapProject: build, health, deploy", () => {
  test("build: what envctl passes on, what it ignores, what it cannot build", () => {
    const r = map({
      app: {
        image: "reg/app:dev",
        build: {
          context: "/src",
          dockerfile: "Dockerfile",
          args: { A: "1", UNSET: null },
          target: "dev",
          cache_from: ["x"],
        },
      },
      remote: { build: { context: "https://github.com/x/y.git", frobnicate: 1 } },
    });
    assert.deepEqual(r.services.app, {
      image: "reg/app:dev",
      build: { context: "/src", dockerfile: "Dockerfile", args: { A: "1" }, target: "dev" },
    });
    assert.deepEqual(issues(r.errors), [
      "services.remote.build.context: remote build contexts are not supported; clone it and use a path",
      "services.remote.build.frobnicate: not supported by envctl",
    ]);
    assert.deepEqual(issues(r.warnings), [
      `services.app.build.cache_from: "cache_from" is ignored: envctl's builds use the engine's local cache`,
    ]);
  });

  test("health: Docker's exec form kept, Docker's timings when Compose gives none, off as NONE", () => {
    const r = map({
      a: {
        ...IMG,
        healthcheck: {
          test: ["CMD", "pg_isready"],
          interval: "1m30s",
          timeout: "1500us",
          retries: 0,
        },
      },
      b: { ...IMG, healthcheck: { disable: true } },
      c: { ...IMG, healthcheck: { interval: "5s" } },
      d: { ...IMG, healthcheck: { test: ["CMD", "true"], interval: "5 minutes" } },
    });
    assert.deepEqual(r.services.a!.health, {
      test: ["CMD", "pg_isready"],
      interval: "1m30s",
      timeout: "1.5ms",
      start_period: "0s",
      start_interval: "5s",
      retries: 3,
    });
    assert.deepEqual(r.services.b!.health, { test: ["NONE"] });
    assert.equal(r.services.c!.health, undefined);
    assert.deepEqual(issues(r.warnings), [
      "services.c.healthcheck: timings without a test are ignored: the image's own HEALTHCHECK runs with its timings",
    ]);
    assert.deepEqual(issues(r.errors), [
      'services.d.healthcheck.interval: must be a duration like "5s", got "5 minutes"',
    ]);
  });

  test("durations: envctl's form is kept, other Go units are converted", () => {
    assert.deepEqual(
      ["1m30s", "1500us", "0", "250ms", "2500000ns", "1h1m", "1.5s", "soon"].map(duration),
      ["1m30s", "1.5ms", "0s", "250ms", "2.5ms", "1h1m", "1.5s", undefined],
    );
  });

  test("deploy: replicas, resources and restart policy are kept; swarm settings are warnings", () => {
    const r = map({
      a: {
        ...IMG,
        deploy: {
          mode: "global",
          replicas: 2,
          resources: {
            limits: { cpus: 0.5, memory: "536870912", pids: 10 },
            reservations: { memory: "1024", cpus: 0.1 },
          },
          restart_policy: { condition: "on-failure", max_attempts: 3, delay: "5s" },
          update_config: { parallelism: 1 },
          placement: {},
        },
      },
      b: { ...IMG, scale: 4, deploy: { restart_policy: { condition: "none" } } },
      c: { ...IMG, deploy: { replicas: 1, restart_policy: { condition: "any" } } },
    });
    assert.equal(r.services.a!.replicas, 2);
    assert.deepEqual(r.services.a!.docker, {
      mem_limit: 536870912,
      cpus: 0.5,
      pids_limit: 10,
      mem_reservation: 1024,
      restart: "on-failure:3",
    });
    assert.deepEqual([r.services.b!.replicas, r.services.b!.docker], [4, { restart: "no" }]);
    assert.deepEqual([r.services.c!.replicas, r.services.c!.docker], [1, { restart: "always" }]);
    assert.deepEqual(
      r.warnings.map((w) => w.path),
      [
        "services.a.deploy.mode",
        "services.a.deploy.resources.reservations.cpus",
        "services.a.deploy.restart_policy.delay",
        "services.a.deploy.update_config",
      ],
    );
  });

  test("depends_on keeps conditions and required: false", () => {
    const r = map({
      a: {
        ...IMG,
        depends_on: {
          b: { condition: "service_started", required: true },
          gone: { condition: "service_healthy", required: false },
        },
      },
      b: IMG,
    });
    assert.deepEqual(r.services.a!.depends_on, {
      b: { condition: "service_started" },
      gone: { condition: "service_healthy", required: false },
    });
  });
});

describe("Compose's errors, located", () => {
  const dir = "/p/shop";
  const cases: [string, { path: string; message: string; file?: string }][] = [
    [
      "validating /p/shop/compose.yml: services.web.ports.0 must be a string",
      { file: "compose.yml", path: "services.web.ports[0]", message: "must be a string" },
    ],
    [
      "validating /p/shop/envs/dev.yml: services.web additional properties 'x' not allowed",
      {
        file: "envs/dev.yml",
        path: "services.web",
        message: "additional properties 'x' not allowed",
      },
    ],
    [
      "decoding failed due to the following error(s):\n\n'services[web].healthcheck.interval' time: invalid duration \"soon\"\n",
      { path: "services.web.healthcheck.interval", message: 'time: invalid duration "soon"' },
    ],
    [
      "error while interpolating services.web.command: required variable X is missing a value: set it",
      { path: "services.web.command", message: "required variable X is missing a value: set it" },
    ],
    [
      "services.web.environment.[0]: unexpected type int",
      { path: "services.web.environment[0]", message: "unexpected type int" },
    ],
    [
      'service "web" depends on undefined service "ghost": invalid compose project',
      {
        path: "services.web.depends_on",
        message: 'service "web" depends on undefined service "ghost": invalid compose project',
      },
    ],
    [
      "service ports services.web.ports.[0] is missing a target port",
      {
        path: "services.web.ports[0]",
        message: "service ports services.web.ports.[0] is missing a target port",
      },
    ],
    [
      "dependency cycle detected: a -> b -> a",
      { path: "services", message: "dependency cycle detected: a -> b -> a" },
    ],
    [
      "failed to parse /p/shop/compose.yml: yaml: line 1: did not find expected ',' or '}'",
      { file: "compose.yml", path: "", message: "yaml: line 1: did not find expected ',' or '}'" },
    ],
    [
      "env file /p/shop/gone.env not found: stat /p/shop/gone.env: no such file or directory",
      {
        path: "",
        message: "env file gone.env not found: stat gone.env: no such file or directory",
      },
    ],
    [
      'time="2026-01-01T00:00:00Z" level=warning msg="/p/shop/compose.yml: `version` is obsolete"\ninvalid hostPort: 70000',
      { path: "", message: "invalid hostPort: 70000" },
    ],
  ];
  for (const [text, want] of cases) {
    test(text.split("\n").at(-1) || text, () => assert.deepEqual(composeError(text, dir), want));
  }
});

describe("Docker Compose reads the files", needsCompose, () => {
  test("without Compose the import says how to get it", (t) => {
    const dir = tmpDir(t, { "compose.yml": "services:\n  a: { image: x }\n" });
    const env = { PATH: "", HOME: dir, DOCKER_CONFIG: dir };
    if (findCompose(env)) return t.skip("a system-wide Compose plugin is installed");
    assert.deepEqual(importCompose([path.join(dir, "compose.yml")], { env }).errors, [
      { path: "", message: COMPOSE_MISSING },
    ]);
  });

  test("results are cached by what Compose read: files, env files, the variables they mention", (t) => {
    const dir = tmpDir(t, {
      "compose.yml": 'services:\n  a: { image: "busybox:${TAG:-1}", env_file: a.env }\n',
      "a.env": "A=1\n",
    });
    const cacheDir = path.join(dir, "cache");
    const files = [path.join(dir, "compose.yml")];
    const load = (env: NodeJS.ProcessEnv = {}) => {
      const r = composeConfig(files, {
        cacheDir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      });
      assert.ok("project" in r, JSON.stringify(r));
      r.save();
      return [
        r.cached,
        r.project.services.a!.image,
        (r.project.services.a!.environment as Record<string, string>).A,
      ];
    };
    assert.deepEqual(load(), [false, "busybox:1", "1"]);
    assert.deepEqual(load(), [true, "busybox:1", "1"]);
    assert.deepEqual(load({ UNRELATED: "x" }), [true, "busybox:1", "1"]);
    assert.deepEqual(load({ TAG: "2" }), [false, "busybox:2", "1"]);
    fs.writeFileSync(path.join(dir, "a.env"), "A=2\n");
    assert.deepEqual(load(), [false, "busybox:1", "2"]);
  });

  test("a load makes nothing in a home envctl has not set up, and keeps nothing of a refused project", (t) => {
    const dir = tmpDir(t, {
      "ok.yml": "services:\n  a: { image: x }\n",
      "bad.yml": "services:\n  a: { build: 'https://example.com/r.git' }\n",
    });
    const env = { ...process.env, ENVCTL_HOME: path.join(dir, "home") };
    assert.deepEqual(importCompose([path.join(dir, "ok.yml")], { env }).errors, []);
    assert.equal(fs.existsSync(env.ENVCTL_HOME), false);
    fs.mkdirSync(env.ENVCTL_HOME);
    // An empty home (validate's sandbox, a first run) is not written to either.
    importCompose([path.join(dir, "ok.yml")], { env });
    assert.deepEqual(fs.readdirSync(env.ENVCTL_HOME), []);
    fs.writeFileSync(path.join(env.ENVCTL_HOME, "catalog.db"), "");
    assert.equal(importCompose([path.join(dir, "bad.yml")], { env }).errors.length, 1);
    assert.equal(fs.existsSync(path.join(env.ENVCTL_HOME, "cache")), false);
    importCompose([path.join(dir, "ok.yml")], { env });
    assert.equal(fs.readdirSync(path.join(env.ENVCTL_HOME, "cache", "compose")).length, 1);
  });

  test("what Compose names only by value is found: a port, an env file, a line of one", (t) => {
    const dir = tmpDir(t, {
      "compose.yml": "services:\n  web: { image: x, env_file: [ok.env] }\n",
      "port.yml": "services:\n  web:\n    ports: ['8080:80', '99999:80']\n",
      "gone.yml": "services:\n  web:\n    env_file: [ok.env, gone.env]\n",
      "line.yml": "services:\n  web:\n    env_file: bad.env\n",
      "ok.env": "A=1\n",
      "bad.env": "B=2\nnot a pair\n",
    });
    const load = (override: string) =>
      importCompose([path.join(dir, "compose.yml"), path.join(dir, override)], { cacheDir: null })
        .errors;
    assert.deepEqual(load("port.yml"), [
      { path: "services.web.ports[1]", file: "port.yml", message: "invalid hostPort: 99999" },
    ]);
    assert.deepEqual(load("gone.yml"), [
      {
        path: "services.web.env_file[1]",
        file: "gone.yml",
        message: "env file gone.env not found: stat gone.env: no such file or directory",
      },
    ]);
    assert.deepEqual(load("line.yml"), [
      { path: "", file: "bad.env", line: 2, message: "key cannot contain a space" },
    ]);
  });

  test("files that would stall Compose are refused before it runs, at the field naming them", (t) => {
    const bomb = ["x-a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 10; i++)
      bomb.push(
        `x-a${i}: &a${i} [${Array<string>(10)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    const dir = tmpDir(t, {
      "fifo.yml": "services:\n  web: { image: x, env_file: pipe.env }\n",
      "bomb.yml": `${bomb.join("\n")}\nservices:\n  web: { image: x }\n`,
      "deep.yml": `services:\n  web:\n    image: x\n    command: ${"[".repeat(500)}${"]".repeat(500)}\n`,
      "nul.yml": 'services:\n  web: { image: x, environment: { A: "a\\0b" } }\n',
    });
    execFileSync("mkfifo", [path.join(dir, "pipe.env")]);
    const load = (file: string) => importCompose([path.join(dir, file)], { cacheDir: null }).errors;
    assert.deepEqual(load("fifo.yml"), [
      {
        path: "services.web.env_file",
        file: "fifo.yml",
        message: "cannot read pipe.env: is not a regular file (a FIFO, socket or device)",
      },
    ]);
    assert.deepEqual(load("bomb.yml"), [
      {
        path: "",
        file: "bomb.yml",
        message: "invalid YAML: Excessive alias count indicates a resource exhaustion attack",
      },
    ]);
    assert.deepEqual(load("deep.yml"), [
      { path: "", file: "deep.yml", line: 4, message: "nested too deeply (more than 128 levels)" },
    ]);
    assert.deepEqual(load("nul.yml"), [
      {
        path: "services.web.environment.A",
        file: "nul.yml",
        message: "must not contain NUL characters",
      },
    ]);
  });

  test("Compose's refusal is the import's error, at its file and dot-path", (t) => {
    const dir = tmpDir(t, { "compose.yml": "services:\n  web:\n    image: 5\n" });
    assert.deepEqual(importCompose([path.join(dir, "compose.yml")], { cacheDir: null }).errors, [
      { file: "compose.yml", path: "services.web.image", message: "must be a string" },
    ]);
  });
});

describe("whole loads", needsCompose, () => {
  test("dust-hive's base compose plus its per-env override", () => {
    const r = loadComposeFiles([
      path.join(DUST, "docker-compose.dust-hive.yml"),
      path.join(DUST, "docker-compose.override.yml"),
    ]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
    const svc = (name: string) => r.spec!.services.find((s) => s.name === name)!;
    assert.deepEqual(
      Object.fromEntries(
        r.spec!.services.map((s) => [s.name, s.ports.map((p) => `${p.container}+${p.offset}`)]),
      ),
      {
        "apache-tika": ["9998+998"],
        db: ["5432+432"],
        elasticsearch: ["9200+200"],
        "qdrant-primary": ["6334+334", "6333+333"],
        "qdrant-secondary": [],
        redis: ["6379+379"],
      },
    );
    assert.deepEqual(svc("db").health, {
      kind: "command",
      command: "pg_isready -U dev",
      test: ["CMD-SHELL", "pg_isready -U dev"],
      intervalMs: 5000,
      timeoutMs: 5000,
      retries: 5,
      startPeriodMs: 0,
      startIntervalMs: 5000,
    });
    assert.deepEqual(svc("redis").health?.test, ["CMD", "redis-cli", "ping"]);
    const db = svc("db");
    assert.ok(db.type === "container");
    assert.equal(db.docker?.restart, "always");
    assert.deepEqual(db.volumes, [
      {
        source: "dust-hive-env-1-pgsql",
        target: "/var/lib/postgresql/data",
        kind: "volume",
        readOnly: false,
      },
    ]);
    assert.deepEqual(
      [svc("qdrant-secondary").dependsOn, svc("qdrant-secondary").conditions],
      [["qdrant-primary"], undefined],
    );
  });

  test("an override: env_file < environment < the override; volumes merged by target", () => {
    const r = loadComposeFiles([
      path.join(APP, "docker-compose.yml"),
      path.join(APP, "docker-compose.override.yml"),
    ]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.warnings.map((w) => w.path),
      ["services.db.container_name", "services.db.logging"],
    );
    const [db, web] = r.spec!.services;
    assert.ok(db?.type === "container" && web?.type === "container");
    assert.deepEqual(db.env, {
      GREETING: "hello # not a comment",
      LOG_LEVEL: "debug",
      PGDATA: "/var/lib/postgresql/data/pg dir",
      POSTGRES_DB: "shop",
      POSTGRES_PASSWORD: "from-override",
      POSTGRES_USER: "shop",
      TIMEZONE: "UTC",
    });
    assert.deepEqual(
      db.ports.map((p) => p.offset),
      [433, 432],
    );
    assert.deepEqual(
      db.volumes.map((v) => [v.kind, v.source]),
      [
        ["volume", "pgdata-fast"],
        ["bind", path.join(APP, "ops", "initdb")],
        ["bind", "/var/run/postgres.sock"],
      ],
    );
    assert.deepEqual(web.build, {
      context: path.join(APP, "web"),
      dockerfile: "Dockerfile",
      args: { NODE_VERSION: "20" },
    });
    assert.deepEqual(
      [web.dependsOn, web.conditions, web.docker?.networks],
      [["db"], undefined, { front: {} }],
    );
    assert.deepEqual(r.spec!.networks, ["front"]);
  });

  test("compose: in envctl.yaml: its services override imported fields and add processes", () => {
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
        "    ports: [{ port: 3000, offset: 0 }]",
        "    depends_on: [db, redis]",
      ].join("\n"),
      { file: path.join(DUST, "envctl.yaml") },
    );
    assert.deepEqual(r.errors, []);
    const redis = r.spec!.services.find((s) => s.name === "redis")!;
    assert.deepEqual(redis.health, {
      kind: "tcp",
      port: 6379,
      intervalMs: 250,
      timeoutMs: 3000,
      retries: 60,
      startPeriodMs: 0,
    });
    const web = r.spec!.services.at(-1)!;
    assert.deepEqual([web.name, web.type, web.dependsOn], ["web", "process", ["db", "redis"]]);
  });

  test("an imported service that breaks envctl's rules is reported by the rules", (t) => {
    // Compose's migrate is in a profile that is off; envctl.yaml's is a process.
    const dir = tmpDir(t, {
      "docker-compose.yml":
        "services:\n  app:\n    image: x\n    depends_on:\n      migrate: { condition: service_completed_successfully, required: false }\n" +
        "  migrate: { image: x, profiles: [jobs] }\n",
    });
    const r = parseSpecText(
      "compose: docker-compose.yml\nservices:\n  migrate: { cmd: make migrate }\n",
      {
        file: path.join(dir, "envctl.yaml"),
      },
    );
    assert.deepEqual(issues(r.errors), [
      'services.app.depends_on.migrate: "migrate" is a process, which never completes; service_completed_successfully needs a container',
    ]);
  });
});

describe("envctl's own checks of imported values", needsCompose, () => {
  test("they name the compose key, not envctl.yaml's", (t) => {
    const dir = tmpDir(t, {
      "compose.yml":
        'services:\n  web:\n    image: x\n    restart: sometimes\n    environment: { FMT: "{{.Name}}" }\n',
    });
    const r = loadComposeFiles([path.join(dir, "compose.yml")]);
    assert.deepEqual(issues(r.errors), [
      'services.web.restart: must be "no", "always", "on-failure[:N]" or "unless-stopped"',
    ]);
  });

  test("a Go template in a value stays literal (compose values are not envctl templates)", (t) => {
    const dir = tmpDir(t, {
      "compose.yml":
        'services:\n  web:\n    image: x\n    environment: { FMT: "{{.Name}} {{ .ID }}" }\n',
    });
    const r = loadComposeFiles([path.join(dir, "compose.yml")]);
    assert.deepEqual(r.errors, []);
    assert.equal(r.spec!.services[0]!.env.FMT, "{{lbrace}}.Name}} {{lbrace}} .ID }}");
  });
});
