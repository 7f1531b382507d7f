/**
 * The copilot preset (presets/copilot) against its design document: the platform and ~/.aws
 * properties on the compose file as written and as Docker Compose normalizes it, the real
 * render-and-start.sh run on generated values (fast-check), and the structure the document
 * states (services, startup order, mounts, volumes, ports).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { parse } from "yaml";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});

const ROOT = path.join(__dirname, "..", "..");
const PRESET = path.join(ROOT, "presets", "copilot");
const COMPOSE = path.join(PRESET, "docker-compose.yml");
const TEMPLATE = path.join(PRESET, "docker", "persistence-dsql-elasticsearch.template.yaml");
const SCRIPT = path.join(PRESET, "docker", "render-and-start.sh");
const STANDINS_ENV = path.join(ROOT, "test", "fixtures", "copilot-standins", "standins.env");
const HOME = process.env.HOME ?? os.homedir();

const SERVICES = [
  "elasticsearch",
  "elasticsearch-setup",
  "temporal-history",
  "temporal-matching",
  "temporal-frontend",
  "temporal-worker",
  "temporal-ui",
  "mimir",
  "loki",
  "alloy",
  "grafana",
  "copilot-temporal",
  "copilot-ui",
  "copilot-worker",
  "copilot-api",
];
const TEMPORAL = ["temporal-history", "temporal-matching", "temporal-frontend", "temporal-worker"];

/** The compose file as written (anchors and merge keys resolved, nothing interpolated). */
function raw(): Obj {
  return obj(parse(fs.readFileSync(COMPOSE, "utf8"), { merge: true }));
}
const rawServices = (): Record<string, Obj> => obj(raw().services) as Record<string, Obj>;

function composeConfig(env: NodeJS.ProcessEnv): {
  status: number | null;
  out: string;
  err: string;
} {
  const r = spawnSync("docker", ["compose", "-f", COMPOSE, "config", "--format", "json"], {
    cwd: PRESET,
    env,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

let normalizedCache: Obj | undefined;
/** As Docker Compose normalizes it, for the document's platform. */
function normalized(): Obj {
  if (!normalizedCache) {
    const r = composeConfig({ ...process.env, HOME, COPILOT_PLATFORM: "linux/arm64" });
    assert.equal(r.status, 0, `docker compose config failed: ${r.err}`);
    normalizedCache = obj(JSON.parse(r.out));
  }
  return normalizedCache;
}
const services = (): Record<string, Obj> => obj(normalized().services) as Record<string, Obj>;

interface Mount {
  type: string;
  source?: string;
  target: string;
  read_only?: boolean;
}
const mounts = (svc: Obj): Mount[] => (Array.isArray(svc.volumes) ? (svc.volumes as Mount[]) : []);

test("the compose file defines the document's 15 services, in its order", () => {
  assert.deepEqual(Object.keys(rawServices()), SERVICES);
  assert.deepEqual(Object.keys(services()).sort(), [...SERVICES].sort());
});

test("Property 1: every service carries the platform variable, and runs on linux/arm64", () => {
  for (const [name, svc] of Object.entries(rawServices())) {
    assert.equal(String(svc.platform), "${COPILOT_PLATFORM:-}", `${name}.platform`);
  }
  for (const [name, svc] of Object.entries(services())) {
    assert.equal(svc.platform, "linux/arm64", `${name}.platform`);
  }
  // Unset, no service names a platform: Docker runs each on the host's own.
  const env: NodeJS.ProcessEnv = { ...process.env, HOME };
  delete env.COPILOT_PLATFORM;
  const r = composeConfig(env);
  assert.equal(r.status, 0, r.err);
  const unset = obj(obj(JSON.parse(r.out)).services) as Record<string, Obj>;
  assert.equal(Object.keys(unset).length, 15);
  for (const [name, svc] of Object.entries(unset)) assert.equal(svc.platform, undefined, name);
});

test("Property 2: services that reference a DSQL host or AWS_REGION mount ~/.aws read-only", () => {
  const ref = /\$\{?(TEMPORAL_SQL_HOST|COPILOT_DSQL_HOST|AWS_REGION)\b/;
  const names = new Set(["TEMPORAL_SQL_HOST", "COPILOT_DSQL_HOST", "AWS_REGION"]);
  const referencing = Object.entries(rawServices())
    .filter(([, svc]) =>
      Object.entries(obj(svc.environment)).some(([k, v]) => names.has(k) || ref.test(String(v))),
    )
    .map(([n]) => n);
  // The detection itself is pinned, so the property cannot pass on an empty set.
  assert.deepEqual(referencing, [
    ...TEMPORAL,
    "grafana",
    "copilot-temporal",
    "copilot-worker",
    "copilot-api",
  ]);
  for (const name of referencing) {
    const svc = services()[name]!;
    const aws = mounts(svc).filter((m) => m.source === path.join(HOME, ".aws"));
    assert.equal(aws.length, 1, `${name} mounts ~/.aws once`);
    assert.equal(aws[0]!.type, "bind", name);
    assert.equal(aws[0]!.read_only, true, `${name}: ~/.aws is read-only`);
    // The SDKs find the files where the mount puts them.
    const env = obj(svc.environment);
    for (const k of ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]) {
      assert.ok(String(env[k]).startsWith(`${aws[0]!.target}/`), `${name}.${k} is in the mount`);
    }
  }
});

test("startup order: each depends_on condition is the document's", () => {
  const healthy = "service_healthy";
  const expected: Record<string, Record<string, string>> = {
    "elasticsearch-setup": { elasticsearch: healthy },
    "temporal-history": { "elasticsearch-setup": "service_completed_successfully" },
    "temporal-matching": { "temporal-history": healthy },
    "temporal-frontend": { "temporal-matching": healthy },
    "temporal-worker": { "temporal-frontend": healthy },
    "temporal-ui": { "temporal-frontend": healthy, "temporal-worker": healthy },
    // Mimir's image cannot run a health check (no shell, no client, no health command).
    alloy: {
      mimir: "service_started",
      loki: healthy,
      ...Object.fromEntries(TEMPORAL.map((t) => [t, healthy])),
    },
    grafana: { mimir: "service_started", loki: healthy },
    "copilot-temporal": { "elasticsearch-setup": "service_completed_successfully" },
    "copilot-ui": { "copilot-temporal": healthy },
    "copilot-worker": { "copilot-temporal": healthy },
    "copilot-api": { "copilot-temporal": healthy },
  };
  const actual = Object.fromEntries(
    Object.entries(services())
      .filter(([, svc]) => isObj(svc.depends_on))
      .map(([n, svc]) => [
        n,
        Object.fromEntries(
          Object.entries(obj(svc.depends_on)).map(([d, c]) => [d, String(obj(c).condition)]),
        ),
      ]),
  );
  assert.deepEqual(actual, expected);
});

test("every long-running service has a health check; every service_healthy dependency has one", () => {
  const all = services();
  for (const [name, svc] of Object.entries(all)) {
    const hc = obj(svc.healthcheck);
    const testCmd = Array.isArray(hc.test) ? (hc.test as string[]) : [];
    if (name === "elasticsearch-setup") {
      assert.equal(svc.restart, "no", "the setup runs once");
      continue;
    }
    if (name === "mimir") continue; // distroless: the compose file says why
    assert.ok(["CMD", "CMD-SHELL"].includes(testCmd[0] ?? ""), `${name} has a health check`);
    assert.equal(svc.restart, "unless-stopped", `${name}.restart`);
    for (const [dep, c] of Object.entries(obj(svc.depends_on))) {
      if (obj(c).condition === "service_healthy")
        assert.ok(isObj(all[dep]?.healthcheck), `${name} waits for ${dep}, which has a check`);
    }
  }
});

test("config files, dynamic config, template and dashboards are mounted read-only, and exist", () => {
  const expected: Record<string, string[]> = {
    "elasticsearch-setup": [
      "config/elasticsearch-setup.sh",
      "config/elasticsearch-visibility-template.json",
    ],
    mimir: ["config/mimir.yaml"],
    loki: ["config/loki.yaml"],
    alloy: ["config/alloy.alloy"],
    grafana: ["config/grafana-datasources.yaml", "config/grafana-dashboards.yaml", "grafana"],
    ...Object.fromEntries(
      [...TEMPORAL, "copilot-temporal"].map((t) => [
        t,
        ["dynamicconfig", "docker/persistence-dsql-elasticsearch.template.yaml"],
      ]),
    ),
  };
  const actual: Record<string, string[]> = {};
  for (const [name, svc] of Object.entries(services())) {
    for (const m of mounts(svc)) {
      if (m.type !== "bind") continue;
      // Every bind mount is read-only: configs, ~/.aws and the Docker socket alike.
      assert.equal(m.read_only, true, `${name}: ${m.source} -> ${m.target} is read-only`);
      const rel = path.relative(PRESET, m.source ?? "");
      if (rel.startsWith("..") || path.isAbsolute(rel)) continue;
      assert.ok(fs.existsSync(m.source!), `${name} mounts ${rel}, which exists`);
      (actual[name] ??= []).push(rel);
    }
  }
  assert.deepEqual(actual, expected);
  const socket = mounts(services().alloy!).find((m) => m.target === "/var/run/docker.sock");
  assert.equal(socket?.read_only, true, "alloy reads the Docker socket read-only");
});

test("the four named volumes hold each service's data; one bridge network joins all", () => {
  const n = normalized();
  assert.deepEqual(Object.keys(obj(raw().volumes)).sort(), [
    "elasticsearch-data",
    "grafana-data",
    "loki-data",
    "mimir-data",
  ]);
  const uses = Object.entries(services()).flatMap(([name, svc]) =>
    mounts(svc)
      .filter((m) => m.type === "volume")
      .map((m) => `${name}:${m.source}:${m.target}`),
  );
  assert.deepEqual(uses.sort(), [
    "elasticsearch:elasticsearch-data:/usr/share/elasticsearch/data",
    "grafana:grafana-data:/var/lib/grafana",
    "loki:loki-data:/loki",
    "mimir:mimir-data:/data",
  ]);
  assert.deepEqual(Object.keys(obj(n.networks)), ["temporal-network"]);
  assert.equal(obj(obj(n.networks)["temporal-network"]).driver, "bridge");
  for (const [name, svc] of Object.entries(services()))
    assert.deepEqual(Object.keys(obj(svc.networks)), ["temporal-network"], name);
});

test("host ports are the document's table; Temporal metrics stay unpublished", () => {
  const published = Object.entries(services()).flatMap(([name, svc]) =>
    (Array.isArray(svc.ports) ? (svc.ports as Obj[]) : []).map(
      (p) => `${name} ${String(p.published)}:${String(p.target)}`,
    ),
  );
  assert.deepEqual(published.sort(), [
    "alloy 12345:12345",
    "copilot-api 8081:8080",
    "copilot-temporal 7243:7233",
    "copilot-ui 8082:8080",
    "elasticsearch 9200:9200",
    "grafana 3000:3000",
    "loki 3100:3100",
    "mimir 9009:9009",
    "temporal-frontend 7233:7233",
    "temporal-frontend 8233:8233",
    "temporal-history 7234:7234",
    "temporal-matching 7235:7235",
    "temporal-ui 8080:8080",
    "temporal-worker 7239:7239",
  ]);
  for (const t of TEMPORAL) assert.deepEqual(services()[t]!.expose, ["9090"], `${t}.expose`);
});

test("images come from variables; standins.env replaces every public one", () => {
  const images = Object.fromEntries(
    Object.entries(rawServices()).map(([n, s]) => [n, String(s.image)]),
  );
  for (const [name, image] of Object.entries(images))
    assert.match(image, /^\$\{[A-Z_]+_IMAGE:-[^}]+\}$/, `${name}.image`);
  const vars = new Set(Object.values(images).map((i) => /^\$\{([A-Z_]+):-/.exec(i)![1]!));
  const standins = Object.fromEntries(
    fs
      .readFileSync(STANDINS_ENV, "utf8")
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.split("=", 2) as [string, string]),
  );
  const built = ["TEMPORAL_RUNTIME_IMAGE", "COPILOT_IMAGE"];
  assert.deepEqual(
    Object.keys(standins).sort(),
    [...vars].filter((v) => !built.includes(v)).sort(),
  );
  const r = composeConfig({ ...process.env, HOME, COPILOT_PLATFORM: "linux/amd64", ...standins });
  assert.equal(r.status, 0, r.err);
  for (const [name, svc] of Object.entries(obj(obj(JSON.parse(r.out)).services))) {
    const image = String(obj(svc).image);
    assert.ok(
      image.startsWith("envctl-standin/") ||
        ["temporal-dsql-runtime:test", "temporal-sre-copilot:dev"].includes(image),
      `${name} runs ${image}`,
    );
  }
});

test(".env.example names every variable the compose file reads", () => {
  const example = fs.readFileSync(path.join(PRESET, ".env.example"), "utf8");
  const used = new Set(
    [...fs.readFileSync(COMPOSE, "utf8").matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!),
  );
  for (const v of used) assert.match(example, new RegExp(`^#? ?${v}=`, "m"), v);
});

// ---------------------------------------------------------------------------------------------
// Property 3: the real render-and-start.sh (bash + python3 on this host)

const TEMPLATE_TEXT = fs.readFileSync(TEMPLATE, "utf8");
const PLACEHOLDER = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(\$))/g;
const placeholders = [
  ...new Set([...TEMPLATE_TEXT.matchAll(PLACEHOLDER)].map((m) => m[1] ?? m[2]).filter(Boolean)),
] as string[];
const REQUIRED = placeholders.filter((n) =>
  /^TEMPORAL_(SQL_|ELASTICSEARCH_|HISTORY_SHARDS$)/.test(n),
);

/** string.Template's substitution, independently: the text the script must write. */
const substitute = (text: string, env: Record<string, string>): string =>
  text.replace(PLACEHOLDER, (_m, braced?: string, named?: string) =>
    braced || named ? env[(braced ?? named)!]! : "$",
  );

// Realistic values; `$`, spaces, quotes and `#` go only where the template double-quotes them.
const quotedText = fc.stringMatching(/^[A-Za-z0-9 $'._:/@#{}-]{1,24}$/);
const port = fc.integer({ min: 1, max: 65535 }).map(String);
const count = fc.integer({ min: 1, max: 100_000 }).map(String);
const VALUE: Record<string, fc.Arbitrary<string>> = {
  TEMPORAL_SQL_PORT: port,
  TEMPORAL_ELASTICSEARCH_PORT: port,
  TEMPORAL_SQL_MAX_CONNS: count,
  TEMPORAL_SQL_MAX_IDLE_CONNS: count,
  TEMPORAL_HISTORY_SHARDS: count,
  TEMPORAL_SQL_TLS_ENABLED: fc.constantFrom("true", "false"),
};
const requiredEnv = fc.record(Object.fromEntries(REQUIRED.map((n) => [n, VALUE[n] ?? quotedText])));
const optionalEnv = fc.record(
  { TEMPORAL_LOG_LEVEL: quotedText, TEMPORAL_FRONTEND_ADDRESS: quotedText },
  { requiredKeys: [] },
);

interface Run {
  status: number | null;
  stderr: string;
  rendered?: string;
  /** The arguments the entrypoint got, when it was exec'd. */
  called?: string[];
}

function render(env: Record<string, string>, template = TEMPLATE): Run {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-render-"));
  try {
    const entry = path.join(dir, "entrypoint.sh");
    fs.writeFileSync(entry, `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/called"\n`, { mode: 0o755 });
    const out = path.join(dir, "persistence.yaml");
    const r = spawnSync("bash", [SCRIPT, "--config-file", out, "start"], {
      env: {
        PATH: process.env.PATH,
        ...env,
        TEMPORAL_PERSISTENCE_TEMPLATE: template,
        TEMPORAL_PERSISTENCE_CONFIG: out,
        TEMPORAL_BASE_ENTRYPOINT: entry,
      },
      encoding: "utf8",
      timeout: 30_000,
    });
    const read = (f: string): string | undefined =>
      fs.existsSync(f) ? fs.readFileSync(f, "utf8") : undefined;
    return {
      status: r.status,
      stderr: r.stderr,
      rendered: read(out),
      called: read(path.join(dir, "called"))?.trimEnd().split("\n"),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The names listed under the script's heading `header` on stderr. */
function listed(stderr: string, header: RegExp): string[] {
  const lines = stderr.split("\n");
  const start = lines.findIndex((l) => header.test(l));
  if (start < 0) return [];
  const names: string[] = [];
  for (const l of lines.slice(start + 1)) {
    const m = /^ {2}- (\S+)$/.exec(l);
    if (!m) break;
    names.push(m[1]!);
  }
  return names;
}

test("the required variables are every TEMPORAL_SQL_*, TEMPORAL_ELASTICSEARCH_* and TEMPORAL_HISTORY_SHARDS the template uses", () => {
  assert.ok(REQUIRED.length >= 15, `template placeholders: ${placeholders.join(", ")}`);
  const r = render({});
  assert.equal(r.status, 1);
  assert.deepEqual(listed(r.stderr, /missing required/).sort(), [...REQUIRED].sort());
  assert.equal(r.called, undefined);
});

test("Property 3: with every required variable, the config renders completely, as YAML with the values", () => {
  fc.assert(
    fc.property(requiredEnv, optionalEnv, (req, opt) => {
      const env: Record<string, string> = { ...req, ...opt };
      const r = render(env);
      assert.equal(r.status, 0, r.stderr);
      const withDefaults = {
        TEMPORAL_LOG_LEVEL: "info",
        TEMPORAL_FRONTEND_ADDRESS: "temporal-frontend:7233",
        ...env,
      };
      assert.equal(r.rendered, substitute(TEMPLATE_TEXT, withDefaults));
      // With no `$` in any value, none can be left in the output.
      if (!Object.values(env).some((v) => v.includes("$"))) assert.doesNotMatch(r.rendered, /\$/);
      const doc = obj(parse(r.rendered));
      const p = obj(doc.persistence);
      const sql = obj(obj(obj(p.datastores)["dsql-default"]).sql);
      const es = obj(obj(obj(p.datastores)["es-visibility"]).elasticsearch);
      assert.equal(p.numHistoryShards, Number(env.TEMPORAL_HISTORY_SHARDS));
      assert.deepEqual(
        {
          pluginName: sql.pluginName,
          databaseName: sql.databaseName,
          connectAddr: sql.connectAddr,
          user: sql.user,
          maxConns: sql.maxConns,
          maxIdleConns: sql.maxIdleConns,
          maxConnLifetime: sql.maxConnLifetime,
          connectionTimeout: sql.connectionTimeout,
          tls: sql.tls,
        },
        {
          pluginName: env.TEMPORAL_SQL_PLUGIN_NAME,
          databaseName: env.TEMPORAL_SQL_DATABASE,
          connectAddr: `${env.TEMPORAL_SQL_HOST}:${env.TEMPORAL_SQL_PORT}`,
          user: env.TEMPORAL_SQL_USER,
          maxConns: Number(env.TEMPORAL_SQL_MAX_CONNS),
          maxIdleConns: Number(env.TEMPORAL_SQL_MAX_IDLE_CONNS),
          maxConnLifetime: env.TEMPORAL_SQL_MAX_CONN_LIFETIME,
          connectionTimeout: env.TEMPORAL_SQL_CONNECTION_TIMEOUT,
          tls: { enabled: env.TEMPORAL_SQL_TLS_ENABLED === "true" },
        },
      );
      assert.deepEqual(
        { version: es.version, url: es.url, indices: es.indices },
        {
          version: env.TEMPORAL_ELASTICSEARCH_VERSION,
          url: {
            scheme: env.TEMPORAL_ELASTICSEARCH_SCHEME,
            host: `${env.TEMPORAL_ELASTICSEARCH_HOST}:${env.TEMPORAL_ELASTICSEARCH_PORT}`,
          },
          indices: { visibility: env.TEMPORAL_ELASTICSEARCH_INDEX },
        },
      );
      assert.equal(obj(doc.log).level, withDefaults.TEMPORAL_LOG_LEVEL);
      assert.equal(obj(doc.publicClient).hostPort, withDefaults.TEMPORAL_FRONTEND_ADDRESS);
      // The container's arguments reach the base entrypoint unchanged.
      assert.deepEqual(r.called, ["--config-file", r.called?.[1], "start"]);
    }),
    { numRuns: 100 },
  );
});

test("Property 3: dropping any set of required variables fails, listing exactly those", () => {
  fc.assert(
    fc.property(
      requiredEnv,
      fc.subarray(REQUIRED, { minLength: 1 }),
      fc.boolean(),
      (req, dropped, asEmpty) => {
        // Unset and set-but-empty are both missing.
        const env = Object.fromEntries(
          Object.entries(req).flatMap(([k, v]) =>
            dropped.includes(k) ? (asEmpty ? [[k, ""]] : []) : [[k, v]],
          ),
        ) as Record<string, string>;
        const r = render(env);
        assert.equal(r.status, 1);
        assert.deepEqual(listed(r.stderr, /missing required/).sort(), [...dropped].sort());
        assert.equal(r.rendered, undefined, "nothing is written");
        assert.equal(r.called, undefined, "the server is not started");
      },
    ),
    { numRuns: 100 },
  );
});

test("Property 3: a template placeholder without a value is reported by name", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-template-"));
  try {
    const lines = TEMPLATE_TEXT.split("\n");
    fc.assert(
      fc.property(
        requiredEnv,
        fc.stringMatching(/^[A-Z][A-Z0-9_]{2,20}$/).filter((n) => !placeholders.includes(n)),
        fc.boolean(),
        fc.nat(lines.length),
        (req, name, braced, at) => {
          const file = path.join(dir, "template.yaml");
          const ref = braced ? `\${${name}}` : `$${name}`;
          // A top-level key keeps the YAML valid wherever it goes between the template's lines.
          const top = lines.findIndex((l, i) => i >= at && /^\S/.test(l));
          const i = top < 0 ? lines.length : top;
          fs.writeFileSync(
            file,
            [...lines.slice(0, i), `extra: "${ref}"`, ...lines.slice(i)].join("\n"),
          );
          const r = render(req, file);
          assert.equal(r.status, 1);
          assert.deepEqual(listed(r.stderr, /unsubstituted variables/), [name]);
          assert.equal(r.called, undefined);
        },
      ),
      { numRuns: 100 },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
