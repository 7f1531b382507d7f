/**
 * The copilot kind for real with its infra off: the preset's 15 services under the real Pulumi
 * engine and Docker, two envs side by side, `envctl build`, `envctl schema`, and the
 * document's error table. No image registry is reachable here, so the preset's public images
 * are replaced through its one documented override (test/fixtures/copilot-standins/standins.env)
 * by small images built from debian:bookworm that listen on the same ports and pass the same
 * health checks; the two images `envctl build` makes come from stand-in repositories
 * (test/fixtures/copilot-standins/temporal-dsql and copilot). The AWS part is proved with mocks
 * (test/mock/copilot-*.test.ts): its provider plugin cannot be installed on these machines.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as YAML from "yaml";
import { recordEvents, type DockerEvent } from "../../bench/timeline";
import { LABEL_ENV, LABEL_SERVICE, networkName } from "../../lib/core/names";
import { assertCreatedNothing, assertNoTrace, childEnv, envctl, said } from "../support/cli";
import { makeCopilotWorkspace, standinDotenv, STANDINS } from "../support/copilot";
import { dockerLeftovers, envName, tempDir, worktreeDirs } from "../support/env";

interface Inspect {
  Name: string;
  State: { Running: boolean; StartedAt: string; FinishedAt: string; ExitCode: number };
  Mounts: { Type: string; Source: string; Destination: string; RW: boolean }[];
  Config: { Labels: Record<string, string> };
}
const inspect = (c: string): Inspect =>
  (JSON.parse(execFileSync("docker", ["inspect", c], { encoding: "utf8" })) as Inspect[])[0]!;

const DOTENV = standinDotenv();

describe("the copilot kind, 15 services for real (infra off)", { timeout: 40 * 60_000 }, () => {
  const root = tempDir("copilot");
  const userHome = path.join(root, "home");
  const home = path.join(root, "envctl-home");
  fs.mkdirSync(path.join(userHome, ".aws"), { recursive: true });
  fs.writeFileSync(
    path.join(userHome, ".aws", "credentials"),
    "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = example\n",
  );
  // ~/.aws is the test's own; Docker's CLI plugins (compose) stay where setup put them.
  const env = {
    HOME: userHome,
    DOCKER_CONFIG: process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"),
    COPILOT_PLATFORM: "",
  };
  const repo = makeCopilotWorkspace(root, { infra: "none", dotenv: DOTENV });
  const [one, two] = [envName("cpa"), envName("cpb")];
  const run = (args: string[], cwd = repo, extra: Record<string, string> = {}) =>
    envctl(args, { home, cwd, env: { ...env, ...extra } });

  before(() => {
    const r = spawnSync("bash", [path.join(STANDINS, "build.sh")], { encoding: "utf8" });
    assert.equal(r.status, 0, `stand-in images: ${r.stdout}\n${r.stderr}`);
  });
  after(async () => {
    for (const n of [one, two]) await run(["destroy", n, "--yes", "--force"]);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("build: a missing temporal-dsql checkout names the path and TEMPORAL_DSQL_PATH (exit 1)", async () => {
    const r = await run(["build"], repo, { TEMPORAL_DSQL_PATH: "/nowhere/temporal-dsql" });
    assert.equal(r.code, 1, said(r));
    assertNoTrace(r);
    assert.match(r.stderr, /temporal-dsql repository not found at \/nowhere\/temporal-dsql/);
    assert.match(r.stderr, /TEMPORAL_DSQL_PATH/);
  });

  it("build: a failing step is surfaced with its output (exit 1)", async () => {
    const broken = path.join(root, "broken-dsql");
    fs.mkdirSync(broken);
    fs.writeFileSync(
      path.join(broken, "Dockerfile"),
      "FROM debian:bookworm\nRUN echo the-go-build-broke && false\n",
    );
    const r = await run(["build"], repo, { TEMPORAL_DSQL_PATH: broken });
    assert.equal(r.code, 1, said(r));
    assertNoTrace(r);
    assert.match(r.stderr, /building image temporal-dsql:latest failed at step 2\/2/);
    assert.match(r.stderr, /the-go-build-broke/);
  });

  it("build makes the base, the runtime image on it, and the copilot image", async () => {
    const r = await run(["build", "--json"]);
    assert.equal(r.code, 0, said(r));
    const doc = JSON.parse(r.stdout) as { images: { tag: string; imageId: string }[] };
    assert.deepEqual(
      doc.images.map((i) => i.tag),
      ["temporal-dsql:latest", "temporal-dsql-runtime:test", "temporal-sre-copilot:dev"],
    );
    for (const i of doc.images) {
      const id = execFileSync("docker", ["image", "inspect", "-f", "{{.Id}}", i.tag], {
        encoding: "utf8",
      }).trim();
      assert.equal(id, i.imageId);
    }
  });

  it("up without .env (infra none): exit 2 naming the variable and .env.example; nothing made", async () => {
    const bare = makeCopilotWorkspace(tempDir("copilot-bare"), { infra: "none" });
    const n = envName("cpx");
    const r = await envctl(["up", n, "-f", "dev/envctl.yaml", "--yes"], {
      home: tempDir("home"),
      cwd: bare,
      env,
    });
    assert.equal(r.code, 2, said(r));
    assertNoTrace(r);
    assert.match(r.stderr, /TEMPORAL_SQL_HOST: is empty/);
    assert.match(r.stderr, /\.env is missing: copy \.env\.example to \.env/);
  });

  it("up with infra aws and no AWS provider plugin: exit 1 with the fix; nothing made", async () => {
    const aws = makeCopilotWorkspace(tempDir("copilot-aws"), { infra: "aws", dotenv: DOTENV });
    const h = tempDir("home");
    const n = envName("cpy");
    const r = await envctl(["up", n, "-f", "dev/envctl.yaml", "--yes"], { home: h, cwd: aws, env });
    assert.equal(r.code, 1, said(r));
    assertNoTrace(r);
    assert.match(
      r.stderr,
      /aws provider plugin: pulumi-resource-aws \(v7\.48\.0 or a newer 7\.x\) is not installed/,
    );
    assert.match(r.stderr, /pulumi plugin install resource aws v7\.48\.0/);
    assertCreatedNothing(h, aws, n);
    const d = await envctl(["doctor", "-f", "dev/envctl.yaml", "--json"], {
      home: h,
      cwd: aws,
      env,
    });
    const rows = (
      JSON.parse(d.stdout) as { checks: { name: string; ok: boolean; fix: string | null }[] }
    ).checks;
    const plugin = rows.find((c) => c.name === "aws provider plugin");
    assert.equal(plugin?.ok, false, d.stdout);
    assert.match(plugin.fix!, /pulumi plugin install resource aws/);
    assert.equal(rows.find((c) => c.name === "aws credentials")?.ok, true, "the test's ~/.aws");
    assert.equal(d.code, 1);
  });

  it("up with infra aws whose provider fails: its words, exit 1, how to recover; destroy cleans up", async () => {
    // The real AWS provider cannot be installed here: an executable on PATH under its name
    // stands in for one whose apply fails, answering as AWS refuses a call.
    const aws = makeCopilotWorkspace(tempDir("copilot-fail"), { infra: "aws", dotenv: DOTENV });
    const bin = tempDir("aws-bin");
    fs.writeFileSync(
      path.join(bin, "pulumi-resource-aws"),
      "#!/bin/sh\necho 'AccessDeniedException: not authorized to perform dsql:CreateCluster' >&2\nexit 1\n",
      { mode: 0o755 },
    );
    const h = tempDir("home");
    const n = envName("cpz");
    const withPlugin = { ...env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}` };
    const r = await envctl(["up", n, "-f", "dev/envctl.yaml", "--yes"], {
      home: h,
      cwd: aws,
      env: withPlugin,
    });
    assert.equal(r.code, 1, said(r));
    assertNoTrace(r);
    assert.match(r.stderr, /envctl: up of \S+ failed/);
    assert.match(r.stderr, /AccessDeniedException: not authorized to perform dsql:CreateCluster/);
    assert.match(r.stderr, /the env is recoverable: .*envctl destroy/);
    const d = await envctl(["destroy", n, "--yes", "--force"], {
      home: h,
      cwd: aws,
      env: withPlugin,
    });
    assert.equal(d.code, 0, said(d));
    assertCreatedNothing(h, aws, n, true);
  });

  let events: DockerEvent[] = [];
  it("up: 15 services in the document's start order, each gate honoured", async () => {
    const rec = await recordEvents({
      serviceLabel: LABEL_SERVICE,
      label: [LABEL_ENV, one],
      network: networkName(one),
    });
    const r = await run(["up", one, "-f", "dev/envctl.yaml", "--yes", "--json"]);
    events = await rec.stop();
    assert.equal(r.code, 0, said(r));
    assertNoTrace(r);
    const at = (svc: string, action: string): number => {
      const e = events.find((x) => x.service === svc && x.action === action);
      assert.ok(e, `no ${action} event for ${svc}`);
      return e.at;
    };
    // completion: elasticsearch-setup ran to exit 0 before either Temporal cluster started.
    assert.equal(inspect(`envctl-${one}-elasticsearch-setup`).State.ExitCode, 0);
    for (const d of ["temporal-history", "copilot-temporal"]) {
      assert.ok(
        at(d, "start") >= at("elasticsearch-setup", "die"),
        `${d} started before setup finished`,
      );
    }
    // health: each dependent starts after its upstream reported healthy.
    const healthy: [string, string][] = [
      ["elasticsearch-setup", "elasticsearch"],
      ["temporal-matching", "temporal-history"],
      ["temporal-frontend", "temporal-matching"],
      ["temporal-worker", "temporal-frontend"],
      ["alloy", "loki"],
      ["alloy", "temporal-worker"],
      ["grafana", "loki"],
      ["copilot-ui", "copilot-temporal"],
      ["copilot-worker", "copilot-temporal"],
      ["copilot-api", "copilot-temporal"],
    ];
    for (const [dep, up] of healthy) {
      assert.ok(at(dep, "start") >= at(up, "healthy"), `${dep} started before ${up} was healthy`);
    }
    // mimir's image can run no check: envctl probes its /ready from the host (envctl.yaml), so
    // Docker has no health event for it; its dependents still start after it.
    for (const dep of ["alloy", "grafana"]) assert.ok(at(dep, "start") >= at("mimir", "start"));
    const running = execFileSync("docker", ["ps", "-q", "--filter", `label=envctl.env=${one}`], {
      encoding: "utf8",
    })
      .trim()
      .split("\n");
    assert.equal(running.length, 14, "14 long-running services (elasticsearch-setup exited)");
  });

  it("status (the document's ps): 15 services, every one as it should be, exit 0", async () => {
    const r = await run(["status", one, "--json"]);
    assert.equal(r.code, 0, said(r));
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      state: string;
      services: { name: string; health?: string }[];
    };
    assert.equal(doc.ok, true, r.stdout);
    assert.equal(doc.state, "warm");
    assert.equal(doc.services.length, 15);
    assert.equal(doc.services.find((x) => x.name === "mimir")?.health, "healthy", r.stdout);
  });

  it("ports are the block's offsets, with the preset's two explicit ones", async () => {
    const r = await run(["outputs", one, "--json"]);
    assert.equal(r.code, 0, said(r));
    const out = JSON.parse(r.stdout) as {
      outputs: { services: Record<string, { ports: Record<string, number> }> };
    };
    const s = out.outputs.services;
    const base = s.grafana!.ports["3000"]!;
    assert.equal(base % 1000, 0);
    assert.deepEqual(s["temporal-frontend"]!.ports, { "7233": base + 233, "8233": base + 833 });
    assert.deepEqual(s["temporal-ui"]!.ports, { "8080": base + 88 });
    assert.deepEqual(s["copilot-temporal"]!.ports, { "7233": base + 243 });
    assert.deepEqual(s["copilot-api"]!.ports, { "8080": base + 81 });
    assert.deepEqual(s["copilot-ui"]!.ports, { "8080": base + 82 });
    assert.equal(s.elasticsearch!.ports["9200"], base + 200);
  });

  it("~/.aws and the config files are mounted read-only", () => {
    const aws = path.join(userHome, ".aws");
    for (const svc of [
      "temporal-history",
      "temporal-frontend",
      "copilot-temporal",
      "copilot-worker",
      "copilot-api",
    ]) {
      const m = inspect(`envctl-${one}-${svc}`).Mounts.find((x) => x.Source === aws);
      assert.ok(m, `${svc} has no ~/.aws mount`);
      assert.equal(m.RW, false, `${svc}: ~/.aws is writable`);
    }
    for (const svc of ["loki", "mimir", "alloy", "grafana"]) {
      const binds = inspect(`envctl-${one}-${svc}`).Mounts.filter(
        (x) => x.Type === "bind" && x.Source.includes(`${path.sep}dev${path.sep}`),
      );
      assert.ok(binds.length > 0, `${svc} mounts no config`);
      assert.ok(
        binds.every((b) => !b.RW),
        `${svc}: a config mount is writable`,
      );
    }
  });

  it("`pulumi preview` by hand of a stack switched to infra aws: envctl's message, no plugin hunt", async () => {
    const settings = path.join(home, "project", `Pulumi.${one}.yaml`);
    const before = fs.readFileSync(settings, "utf8");
    const doc = YAML.parse(before) as { config: Record<string, string> };
    const resolved = JSON.parse(doc.config["envctl:env"]!) as { copilot: { infra: string } };
    assert.equal(resolved.copilot.infra, "none");
    resolved.copilot.infra = "aws";
    doc.config["envctl:env"] = JSON.stringify(resolved);
    fs.writeFileSync(settings, YAML.stringify(doc));
    try {
      const vars = JSON.parse((await run(["env", "--json"])).stdout) as Record<string, string>;
      const r = spawnSync("pulumi", ["preview", "--stack", one, "--non-interactive"], {
        cwd: path.join(home, "project"),
        env: { ...childEnv(home, env), ...vars },
        encoding: "utf8",
      });
      const text = r.stdout + r.stderr;
      assert.notEqual(r.status, 0, text);
      assert.match(
        text,
        /copilot\.infra aws\): aws provider plugin: pulumi-resource-aws \(v7\.48\.0 or a newer 7\.x\) is not installed/,
      );
      assert.match(text, /pulumi plugin install resource aws v7\.48\.0/);
      assert.doesNotMatch(text, /^\s+at /m, "no stack trace");
    } finally {
      fs.writeFileSync(settings, before);
    }
  });

  it("schema: every step attempted; DSQL unreachable is reported, Elasticsearch's succeed (exit 1)", async () => {
    const r = await run(["schema", one, "--json"]);
    assert.equal(r.code, 1, said(r));
    const doc = JSON.parse(r.stdout) as { steps: { name: string; ok: boolean; detail: string }[] };
    assert.deepEqual(
      doc.steps.map((s) => [s.name.split(":")[0], s.ok]),
      [
        ["monitored DSQL", false],
        ["monitored Elasticsearch", true],
        ["copilot DSQL", false],
        ["copilot Elasticsearch", true],
      ],
    );
    assert.match(doc.steps[0]!.detail, /monitored\.dsql\.invalid/);
    assert.equal(
      dockerLeftovers(one).containers.length,
      15,
      "the schema tool's containers are gone",
    );
  });

  it("schema with Elasticsearch down: its steps report it, the DSQL steps still run (exit 1)", async () => {
    const es = `envctl-${one}-elasticsearch`;
    execFileSync("docker", ["stop", "-t", "1", es]);
    try {
      const r = await run(["schema", one]);
      assert.equal(r.code, 1, said(r));
      assertNoTrace(r);
      const lines = r.stderr.split("\n").filter((l) => /^(ok|FAILED) /.test(l));
      assert.equal(lines.length, 4, r.stderr);
      assert.ok(
        lines.every((l) => l.startsWith("FAILED")),
        r.stderr,
      );
      assert.match(
        r.stderr,
        /monitored Elasticsearch: visibility index .*: Elasticsearch not reachable at http:\/\/127\.0\.0\.1:\d+/,
      );
      assert.match(r.stderr, /copilot DSQL: Temporal schema: exit \d+/);
      assert.match(r.stderr, /schema: 4 of 4 steps failed/);
    } finally {
      execFileSync("docker", ["start", es]);
    }
  });

  it("build with the Docker engine unreachable: exit 1 saying so", async () => {
    const r = await run(["build"], repo, {
      DOCKER_HOST: `unix://${path.join(root, "no-docker.sock")}`,
    });
    assert.equal(r.code, 1, said(r));
    assertNoTrace(r);
    assert.match(r.stderr, /cannot reach the Docker engine .*is it running\?/);
  });

  it("infra on an env without an AWS part, or with an unknown action: exit 2, nothing touched", async () => {
    const none = await run(["infra", one, "apply"]);
    assert.equal(none.code, 2, said(none));
    assertNoTrace(none);
    assert.match(none.stderr, /has no AWS part \(copilot\.infra none\)/);
    const bad = await run(["infra", one, "teardown"]);
    assert.equal(bad.code, 2, said(bad));
    assert.match(bad.stderr, /unknown action "teardown"; use apply or destroy/);
    assert.equal(inspect(`envctl-${one}-copilot-api`).State.Running, true);
  });

  it("a second copilot env runs beside the first on its own block", async () => {
    const r = await run(["up", two, "-f", "dev/envctl.yaml", "--yes", "--json"]);
    assert.equal(r.code, 0, said(r));
    const ports = (n: string): number =>
      Number(
        execFileSync("docker", ["port", `envctl-${n}-grafana`, "3000"], { encoding: "utf8" })
          .trim()
          .split(":")
          .at(-1),
      );
    assert.equal(Math.abs(ports(two) - ports(one)), 1000);
    for (const n of [one, two]) {
      assert.equal(inspect(`envctl-${n}-copilot-api`).State.Running, true);
    }
  });

  it("stop keeps the volumes and the env; stop --volumes removes them; start makes them again", async () => {
    const stop = await run(["stop", two]);
    assert.equal(stop.code, 0, said(stop));
    assert.deepEqual(dockerLeftovers(two).containers, []);
    assert.equal(dockerLeftovers(two).volumes.length, 4, "down keeps the four named volumes");
    const networks = dockerLeftovers(two).networks;
    assert.equal(networks.length, 2, "the env's default network and temporal-network");
    const drop = await run(["stop", two, "--volumes"]);
    assert.equal(drop.code, 0, said(drop));
    assert.deepEqual(dockerLeftovers(two).volumes, [], "down -v removes them");
    assert.deepEqual(dockerLeftovers(two).networks, networks, "the env's networks stay");
    const start = await run(["start", two]);
    assert.equal(start.code, 0, said(start));
    assert.equal(dockerLeftovers(two).volumes.length, 4);
  });

  it("destroy leaves nothing of either env", async () => {
    for (const n of [one, two]) {
      const r = await run(["destroy", n, "--yes", "--force"]);
      assert.equal(r.code, 0, said(r));
      assert.deepEqual(dockerLeftovers(n), { containers: [], volumes: [], networks: [] });
    }
    assert.deepEqual(worktreeDirs(repo), [fs.realpathSync(repo)]);
    const l = await run(["list", "--json"]);
    assert.deepEqual((JSON.parse(l.stdout) as { envs: unknown[] }).envs, []);
  });
});
