/**
 * The copilot kind's pure parts: the spec's `kind`/`copilot` block, what `infra: none` requires
 * of .env, the build plan and its errors, the compose platform default, and the schema runner
 * (the document's property 4, with fast-check).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { UserError } from "../../lib/core/errors";
import { buildPlan, IMAGES, temporalDsqlPath } from "../../lib/kinds/copilot/build";
import { copilotComposeEnv, fillTokens, outputToken, tokensIn } from "../../lib/spec/copilot";
import { runSteps, sqlToolArgs } from "../../lib/kinds/copilot/schema";
import { parseSpecText } from "../../lib/spec/load";
import { makeRepo, tempDir } from "../support/env";

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A repo holding `dev/envctl.yaml` (the given text) and a one-service compose file. */
function copilotRepo(spec: string, env?: string): { repo: string; file: string } {
  const compose = [
    "services:",
    "  temporal-history:",
    "    image: temporal-dsql-runtime:test",
    "    environment:",
    "      TEMPORAL_SQL_HOST: ${TEMPORAL_SQL_HOST:-}",
    "      AWS_REGION: ${AWS_REGION:-eu-west-1}",
    "  copilot-api:",
    "    image: temporal-sre-copilot:dev",
    "    environment:",
    "      COPILOT_DSQL_HOST: ${COPILOT_DSQL_HOST:-}",
    "  copilot-worker:",
    "    image: temporal-sre-copilot:dev",
    "    environment:",
    "      COPILOT_DSQL_HOST: ${COPILOT_DSQL_HOST:-}",
    "",
  ].join("\n");
  const repo = makeRepo({
    files: {
      "dev/envctl.yaml": spec,
      "dev/docker-compose.yml": compose,
      ...(env !== undefined ? { "dev/.env": env } : {}),
    },
  });
  dirs.push(repo);
  return { repo, file: path.join(repo, "dev", "envctl.yaml") };
}

function parse(spec: string, env?: string) {
  const { file } = copilotRepo(spec, env);
  return parseSpecText(spec, { file });
}

describe("the copilot spec", () => {
  it("kind: copilot with defaults: infra aws, project copilot, region eu-west-1", () => {
    const r = parse("kind: copilot\ncompose: docker-compose.yml\n");
    assert.deepEqual(r.errors, []);
    assert.equal(r.spec!.kind, "copilot");
    assert.equal(r.spec!.copilot!.infra, "aws");
    assert.equal(r.spec!.copilot!.projectName, "copilot");
    assert.equal(r.spec!.copilot!.region, "eu-west-1");
  });

  it("a copilot block needs kind: copilot; bad fields are named by dot-path", () => {
    const r = parse("compose: docker-compose.yml\ncopilot: { infra: aws }\n");
    assert.deepEqual(
      r.errors.map((e) => [e.path, e.message]),
      [["copilot", 'applies to the copilot kind only: add "kind: copilot"']],
    );
    const bad = parse(
      "kind: copilot\ncompose: docker-compose.yml\ncopilot: { infra: gcp, region: Europe, projct_name: x }\n",
    );
    const paths = bad.errors.map((e) => e.path).sort();
    assert.deepEqual(paths, ["copilot", "copilot.infra", "copilot.region"].sort());
    assert.match(
      bad.errors.find((e) => e.path === "copilot")!.message,
      /did you mean "project_name"/,
    );
    assert.equal(parse("kind: nomad\nservices: { a: { image: x } }\n").errors[0]!.path, "kind");
  });

  it("infra none: each empty DSQL endpoint is an error pointing at .env and .env.example", () => {
    const spec = "kind: copilot\ncompose: docker-compose.yml\ncopilot: { infra: none }\n";
    const missing = parse(spec);
    assert.deepEqual(
      missing.errors.map((e) => e.path),
      [
        "services.temporal-history.env.TEMPORAL_SQL_HOST",
        "services.copilot-api.env.COPILOT_DSQL_HOST",
      ],
    );
    assert.match(
      missing.errors[0]!.message,
      /\.env is missing: copy \.env\.example to \.env and set TEMPORAL_SQL_HOST/,
    );
    assert.match(missing.errors[1]!.message, /and 1 other services/);
    // .env present but one still unset: only that one, and the message names the file.
    const half = parse(spec, "TEMPORAL_SQL_HOST=abc.dsql.eu-west-1.on.aws\n");
    assert.deepEqual(
      half.errors.map((e) => e.path),
      ["services.copilot-api.env.COPILOT_DSQL_HOST"],
    );
    assert.match(half.errors[0]!.message, /set COPILOT_DSQL_HOST in .*dev\/\.env/);
    const full = parse(
      spec,
      "TEMPORAL_SQL_HOST=a.dsql.eu-west-1.on.aws\nCOPILOT_DSQL_HOST=b.dsql.eu-west-1.on.aws\n",
    );
    assert.deepEqual(full.errors, []);
    assert.equal(
      full.spec!.services.find((s) => s.name === "copilot-api")!.env.COPILOT_DSQL_HOST,
      "b.dsql.eu-west-1.on.aws",
    );
    // infra aws: the stack fills them, nothing is required of .env.
    assert.deepEqual(parse("kind: copilot\ncompose: docker-compose.yml\n").errors, []);
  });

  it("infra aws: the infra variables are read as output tokens and the region as given", () => {
    const env = copilotComposeEnv({ region: "us-east-2" }, { TEMPORAL_SQL_HOST: "from-shell" });
    assert.equal(env.TEMPORAL_SQL_HOST, outputToken("monitored_dsql_endpoint"), "the stack's wins");
    assert.equal(env.COPILOT_DSQL_HOST, outputToken("copilot_dsql_endpoint"));
    assert.equal(env.COPILOT_KNOWLEDGE_BASE_ID, outputToken("knowledge_base_id"));
    assert.equal(env.AWS_REGION, "us-east-2");
    assert.equal(env.TEMPORAL_SQL_AWS_REGION, "us-east-2");
    assert.equal(env.COPILOT_PLATFORM, undefined, "unset: the host's platform, Docker's default");
    const none = copilotComposeEnv({ infra: "none" }, { TEMPORAL_SQL_HOST: "h" });
    assert.equal(none.TEMPORAL_SQL_HOST, "h");
    assert.equal(none.AWS_REGION, undefined);
    // A value built around tokens: each is found and filled; an unknown one stays.
    const v = `postgres://${outputToken("copilot_dsql_endpoint")}:5432/${outputToken("x_y")}`;
    assert.deepEqual(tokensIn(v), ["copilot_dsql_endpoint", "x_y"]);
    assert.equal(
      fillTokens(v, { copilot_dsql_endpoint: "c.dsql.us-east-2.on.aws" }),
      `postgres://c.dsql.us-east-2.on.aws:5432/${outputToken("x_y")}`,
    );
  });
});

describe("envctl build's plan", () => {
  const root = tempDir("copilot-build");
  dirs.push(root);
  const repo = path.join(root, "temporal-sre-copilot");
  const dsql = path.join(root, "temporal-dsql");
  fs.mkdirSync(path.join(repo, "dev", "docker"), { recursive: true });
  fs.writeFileSync(path.join(repo, "Dockerfile"), "FROM debian:bookworm\n");
  fs.writeFileSync(path.join(repo, "dev", "docker", "Dockerfile"), "FROM temporal-dsql:latest\n");

  it("a missing temporal-dsql checkout: exit 1 with the expected path and TEMPORAL_DSQL_PATH", () => {
    assert.throws(
      () => buildPlan(repo, path.join(repo, "dev"), {}),
      (err: unknown) =>
        err instanceof UserError &&
        err.exitCode === 1 &&
        err.message === `temporal-dsql repository not found at ${dsql}` &&
        err.details.some((d) => d.includes("TEMPORAL_DSQL_PATH")),
    );
    assert.throws(
      () => buildPlan(repo, path.join(repo, "dev"), { TEMPORAL_DSQL_PATH: "/nowhere/tdsql" }),
      /not found at \/nowhere\/tdsql/,
    );
  });

  it("base first, then the runtime image FROM it, then the copilot image", () => {
    fs.mkdirSync(dsql, { recursive: true });
    assert.throws(
      () => buildPlan(repo, path.join(repo, "dev"), {}),
      /no Dockerfile at .*temporal-dsql\/Dockerfile/,
    );
    fs.writeFileSync(path.join(dsql, "Dockerfile"), "FROM debian:bookworm\n");
    const plan = buildPlan(repo, path.join(repo, "dev"), {});
    assert.deepEqual(
      plan.map((p) => [p.tag, p.context]),
      [
        [IMAGES.base, dsql],
        [IMAGES.runtime, path.join(repo, "dev", "docker")],
        [IMAGES.copilot, repo],
      ],
    );
    assert.equal(temporalDsqlPath(repo, { TEMPORAL_DSQL_PATH: "../temporal-dsql" }), dsql);
  });
});

describe("schema setup (the document's property 4)", () => {
  it("every step is attempted in order whatever the others do; each is reported", async () => {
    const outcome = fc.constantFrom("ok", "reject", "throw");
    await fc.assert(
      fc.asyncProperty(fc.array(outcome, { minLength: 1, maxLength: 12 }), async (plan) => {
        const ran: number[] = [];
        const steps = plan.map((o, i) => ({
          name: `step ${i}`,
          run: (): Promise<string> => {
            ran.push(i);
            if (o === "throw") throw new Error(`boom ${i}`);
            return o === "ok" ? Promise.resolve(`done ${i}`) : Promise.reject(new Error(`no ${i}`));
          },
        }));
        const seen: string[] = [];
        const results = await runSteps(steps, (r) => seen.push(r.name));
        assert.deepEqual(
          ran,
          plan.map((_, i) => i),
        );
        assert.deepEqual(
          seen,
          plan.map((_, i) => `step ${i}`),
        );
        assert.deepEqual(
          results.map((r) => [r.ok, r.detail]),
          plan.map((o, i) => [
            o === "ok",
            o === "ok" ? `done ${i}` : o === "throw" ? `boom ${i}` : `no ${i}`,
          ]),
        );
      }),
      { numRuns: 200 },
    );
  });

  it("temporal-sql-tool: setup-schema 0.0, then update-schema from the versioned dir", () => {
    const [setup, update] = sqlToolArgs(
      { host: "h.dsql.eu-west-1.on.aws", port: "5432", user: "admin", database: "postgres" },
      "/schema/v",
    );
    assert.deepEqual(setup!.slice(-3), ["setup-schema", "-v", "0.0"]);
    assert.deepEqual(update!.slice(-3), ["update-schema", "-d", "/schema/v"]);
    assert.deepEqual(setup!.slice(1, 5), ["--plugin", "dsql", "--ep", "h.dsql.eu-west-1.on.aws"]);
  });
});

describe("the AWS name prefix of an env", () => {
  it("is <project_name>-<env>, at most 29 characters, unique per env when shortened", async () => {
    const { awsPrefix, MAX_PREFIX } = await import("../../lib/kinds/copilot/resolve");
    assert.equal(awsPrefix("copilot", "feature-x"), "copilot-feature-x");
    const long = "a-very-long-project-name-here";
    const a = awsPrefix(long, "env-one");
    const b = awsPrefix(long, "env-two");
    assert.ok(a.length <= MAX_PREFIX && b.length <= MAX_PREFIX, `${a} ${b}`);
    assert.notEqual(a, b);
    assert.match(a, /^[a-z0-9-]+$/);
    assert.ok(!a.includes("--"));
  });
});

describe("the AWS part alone (envctl infra)", () => {
  it("targets the Infra component and every resource under it, nothing else", async () => {
    const { infraTargets, infraHeld, isInfraUrn } = await import("../../lib/kinds/copilot/infra");
    assert.deepEqual(infraTargets("cp"), ["urn:pulumi:cp::envctl::envctl:copilot:Infra**"]);
    const u = (t: string, n: string): string => `urn:pulumi:cp::envctl::${t}::${n}`;
    const comp = u("envctl:copilot:Infra", "cp-infra");
    const cluster = u(
      "envctl:copilot:Infra$envctl:copilot:DsqlCluster$aws:dsql/cluster:Cluster",
      "cp-infra-monitored",
    );
    const provider = u("envctl:copilot:Infra$pulumi:providers:aws", "cp-infra-aws");
    const ctr = u(
      "envctl:devenv:DevEnv$envctl:devenv:ContainerService$pulumi-nodejs:dynamic/envctl:Container",
      "cp-temporal-history",
    );
    const grafana = u(
      "envctl:devenv:DevEnv$envctl:devenv:ContainerService$pulumi-nodejs:dynamic/envctl:Container",
      "cp-grafana",
    );
    assert.ok([comp, cluster, provider].every(isInfraUrn));
    assert.ok(![ctr, grafana, u("envctl:copilot:Infrastructure", "x")].some(isInfraUrn));
    const held = [
      { urn: comp, type: "envctl:copilot:Infra" },
      { urn: provider, type: "pulumi:providers:aws" },
      { urn: cluster, type: "aws:dsql/cluster:Cluster" },
      {
        urn: ctr,
        type: "pulumi-nodejs:dynamic/envctl:Container",
        dependencies: [cluster],
        outputs: { name: "envctl-cp-temporal-history" },
      },
      { urn: grafana, type: "pulumi-nodejs:dynamic/envctl:Container", dependencies: [] },
    ];
    const r = infraHeld(held);
    assert.deepEqual(r.infra, [comp, provider, cluster]);
    assert.deepEqual(
      r.dependents.map((d) => d.urn),
      [ctr],
    );
    assert.deepEqual(infraHeld(held.filter((h) => h.urn !== ctr)).dependents, []);
  });
});

describe("AWS readiness (doctor rows, and the refusal before anything is made)", () => {
  it("the plugin is found on PATH or in PULUMI_HOME's cache; credentials from env or ~/.aws", async () => {
    const { findAwsPlugin, findAwsCredentials, awsProblem, checkAwsCredentials } =
      await import("../../lib/doctor/aws");
    const home = tempDir("aws-home");
    dirs.push(home);
    const base = { HOME: home, PATH: "/nonexistent", PULUMI_HOME: path.join(home, ".pulumi") };
    assert.equal(findAwsPlugin(base), undefined);
    assert.match(
      awsProblem(base)!,
      /^aws provider plugin: pulumi-resource-aws \(v7\.48\.0 or a newer 7\.x\) is not installed.*pulumi plugin install resource aws v7\.48\.0/,
    );
    // Too old, or not executable: not the plugin the program needs.
    const old = path.join(home, ".pulumi", "plugins", "resource-aws-v7.12.0");
    fs.mkdirSync(old, { recursive: true });
    fs.writeFileSync(path.join(old, "pulumi-resource-aws"), "", { mode: 0o755 });
    const cached = path.join(home, ".pulumi", "plugins", "resource-aws-v7.50.1");
    fs.mkdirSync(cached, { recursive: true });
    fs.writeFileSync(path.join(cached, "pulumi-resource-aws"), "", { mode: 0o644 });
    assert.equal(findAwsPlugin(base), undefined);
    fs.chmodSync(path.join(cached, "pulumi-resource-aws"), 0o755);
    assert.equal(findAwsPlugin(base), path.join(cached, "pulumi-resource-aws"));
    // Plugin there, no credentials found: only advisory (an instance profile may provide them).
    assert.equal(findAwsCredentials(base), undefined);
    assert.equal(awsProblem(base), undefined);
    const creds = checkAwsCredentials(base);
    assert.equal(creds.ok, false);
    assert.equal(creds.required, false);
    assert.match(creds.fix!, /aws configure/);
    assert.equal(
      findAwsCredentials({ ...base, AWS_ACCESS_KEY_ID: "A", AWS_SECRET_ACCESS_KEY: "S" }),
      "AWS_ACCESS_KEY_ID",
    );
    fs.mkdirSync(path.join(home, ".aws"));
    fs.writeFileSync(path.join(home, ".aws", "config"), "[profile dev]\nregion = eu-west-1\n");
    assert.equal(findAwsCredentials(base), undefined, "no default profile");
    assert.match(findAwsCredentials({ ...base, AWS_PROFILE: "dev" })!, /profile dev in .*config/);
    assert.equal(checkAwsCredentials({ ...base, AWS_PROFILE: "dev" }).ok, true);
  });
});
