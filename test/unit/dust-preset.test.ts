import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { resolveHome } from "../../lib/core/home";
import { resolveEnv } from "../../lib/kinds/devenv/resolve";
import { formatIssue, loadSpecFile } from "../../lib/spec/load";
import type { EnvSpec, ResolvedEnv } from "../../lib/spec/model";

const PRESET = path.join(__dirname, "..", "..", "presets", "dust", "envctl.yaml");
/** dust-hive's env.sh for env NAME in block 0, verbatim from its spec (comments included). */
const DOC_ENV_SH = fs.readFileSync(
  path.join(__dirname, "..", "fixtures", "dust-env.sh.txt"),
  "utf8",
);
const home = resolveHome({ ENVCTL_HOME: "/home/u/.envctl" });

/** As `--preset dust` loads it: on the repo envctl runs in, its dirs starting at that repo's root. */
function load(): EnvSpec {
  const r = loadSpecFile(PRESET, { repo: "/src/dust" });
  assert.deepEqual(r.errors.map(formatIssue), []);
  assert.deepEqual(r.warnings.map(formatIssue), []);
  return r.spec!;
}

/** The document's lines for env `name`, trailing `# ...` comments dropped (the shell ignores them). */
function docLines(name: string): string[] {
  return DOC_ENV_SH.replace(/\bNAME\b/g, name)
    .split("\n")
    .map((l) => l.replace(/\s+# .*$/, ""));
}

const exportLines = (lines: string[]): string[] => lines.filter((l) => l.startsWith("export "));

test("the preset loads without errors or warnings", () => {
  const spec = load();
  assert.deepEqual(
    spec.services.map((s) => `${s.name}:${s.type}`),
    [
      "db:container",
      "redis:container",
      "qdrant-primary:container",
      "qdrant-secondary:container",
      "elasticsearch:container",
      "apache-tika:container",
      "sdk:process",
      "front:process",
      "core:process",
      "oauth:process",
      "connectors:process",
      "front-workers:process",
    ],
  );
});

test("env-1's env.sh exports are dust-hive's, line for line", () => {
  const env = resolveEnv("env-1", load(), 0, home);
  const rendered = env.envSh.split("\n");
  assert.deepEqual(exportLines(rendered), exportLines(docLines("env-1")));
  assert.equal(exportLines(rendered).length, 34);
  // Sections, blank lines and order too: everything after the document's `source` line.
  assert.deepEqual(rendered.slice(2), docLines("env-1").slice(1));
});

test("env-2's env.sh exports are shifted by 1000", () => {
  const env = resolveEnv("env-2", load(), 1, home);
  assert.deepEqual(exportLines(env.envSh.split("\n")), [
    "export PORT=11000",
    "export CORE_PORT=11001",
    "export CONNECTORS_PORT=11002",
    "export OAUTH_PORT=11006",
    "export TEMPORAL_NAMESPACE=dust-hive-env-2",
    "export TEMPORAL_AGENT_NAMESPACE=dust-hive-env-2-agent",
    "export TEMPORAL_CONNECTORS_NAMESPACE=dust-hive-env-2-connectors",
    "export TEMPORAL_RELOCATION_NAMESPACE=dust-hive-env-2-relocation",
    "export POSTGRES_PORT=11432",
    "export POSTGRES_HOST=localhost",
    "export QDRANT_URL=http://localhost:11334",
    "export ELASTICSEARCH_INIT_URL=http://localhost:11200",
    "export CORE_API=http://localhost:11001",
    "export CONNECTORS_API=http://localhost:11002",
    "export OAUTH_API=http://localhost:11006",
    "export DUST_FRONT_API=http://localhost:11000",
    "export DUST_FRONT_INTERNAL_API=http://localhost:11000",
    "export DUST_CLIENT_FACING_URL=http://localhost:11000",
    "export DUST_PUBLIC_URL=http://localhost:11000",
    "export NEXT_PUBLIC_DUST_CLIENT_FACING_URL=http://localhost:11000",
    "export DUST_AUTH_REDIRECT_BASE_URL=http://localhost:3000",
    "export CONNECTORS_PUBLIC_URL=http://localhost:11002",
    "export FRONT_DATABASE_URI=postgres://dev:dev@localhost:11432/dust_front",
    "export FRONT_DATABASE_READ_REPLICA_URI=postgres://dev:dev@localhost:11432/dust_front",
    "export CORE_DATABASE_URI=postgres://dev:dev@localhost:11432/dust_api",
    "export CORE_DATABASE_READ_REPLICA_URI=postgres://dev:dev@localhost:11432/dust_api",
    "export CONNECTORS_DATABASE_URI=postgres://dev:dev@localhost:11432/dust_connectors",
    "export CONNECTORS_DATABASE_READ_REPLICA_URI=postgres://dev:dev@localhost:11432/dust_connectors",
    "export OAUTH_DATABASE_URI=postgres://dev:dev@localhost:11432/dust_oauth",
    "export REDIS_URI=redis://localhost:11379",
    "export REDIS_CACHE_URI=redis://localhost:11379",
    "export QDRANT_CLUSTER_0_URL=http://127.0.0.1:11334",
    "export ELASTICSEARCH_URL=http://localhost:11200",
    "export TEXT_EXTRACTION_URL=http://localhost:11998",
  ]);
});

/** `service/containerPort -> host port` for every published port. */
function portTable(env: ResolvedEnv): Record<string, number> {
  return Object.fromEntries(
    env.services.flatMap((s) => s.ports.map((p) => [`${s.name}/${p.container}`, p.host])),
  );
}

test("the port table of dust-hive's spec, for env-1 and env-2", () => {
  const spec = load();
  assert.deepEqual(portTable(resolveEnv("env-1", spec, 0, home)), {
    "front/3000": 10000,
    "core/3001": 10001,
    "connectors/3002": 10002,
    "oauth/3006": 10006,
    "db/5432": 10432,
    "redis/6379": 10379,
    "qdrant-primary/6334": 10334,
    "qdrant-primary/6333": 10333,
    "elasticsearch/9200": 10200,
    "apache-tika/9998": 10998,
  });
  assert.deepEqual(portTable(resolveEnv("env-2", spec, 1, home)), {
    "front/3000": 11000,
    "core/3001": 11001,
    "connectors/3002": 11002,
    "oauth/3006": 11006,
    "db/5432": 11432,
    "redis/6379": 11379,
    "qdrant-primary/6334": 11334,
    "qdrant-primary/6333": 11333,
    "elasticsearch/9200": 11200,
    "apache-tika/9998": 11998,
  });
});

test("first warm: temporal namespaces, then the database init steps, after the SDK is built", () => {
  const env = resolveEnv("env-1", load(), 0, home);
  const [first, ...rest] = env.init;
  assert.ok(first);
  assert.equal(first.name, "temporal-namespaces");
  assert.deepEqual(
    [...first.run.matchAll(/namespace create --address localhost:7233 --namespace (\S+)/g)].map(
      (m) => m[1],
    ),
    [
      "dust-hive-env-1",
      "dust-hive-env-1-agent",
      "dust-hive-env-1-connectors",
      "dust-hive-env-1-relocation",
    ],
  );
  assert.deepEqual(
    rest.map((s) => `${s.dir}: ${s.run}`),
    [
      ".: ./init_dev_container.sh",
      "core: cargo run --bin init_db",
      "front: ./admin/init_db.sh --unsafe && ./admin/init_plans.sh --unsafe",
      "connectors: ./admin/init_db.sh --unsafe",
    ],
  );
  assert.ok(env.initAfter.includes("sdk"), "init waits for the SDK build");
  assert.deepEqual(
    env.initAfter.filter((n) => n !== "sdk"),
    env.services.filter((s) => s.type === "container").map((s) => s.name),
  );
});

test("sdk is the only cold service; the phases are dependencies", () => {
  const spec = load();
  assert.deepEqual(
    spec.services.filter((s) => s.cold).map((s) => s.name),
    ["sdk"],
  );
  const svc = (n: string) => spec.services.find((s) => s.name === n)!;
  assert.deepEqual(svc("sdk").health?.command, "test -f dist/client.esm.js");
  for (const app of ["front", "core", "oauth", "connectors"]) {
    assert.ok(svc(app).dependsOn.includes("sdk"), `${app} starts after the SDK build`);
  }
  assert.deepEqual(svc("front-workers").dependsOn, ["front"]);
  assert.deepEqual(svc("front").health?.path, "/api/healthz");
  const connectors = resolveEnv("env-1", spec, 0, home).services.find(
    (s) => s.name === "connectors",
  );
  assert.equal(
    connectors?.type === "process" && connectors.cmd,
    "TEMPORAL_NAMESPACE=dust-hive-env-1-connectors npx tsx src/start.ts -p $CONNECTORS_PORT",
  );
});
