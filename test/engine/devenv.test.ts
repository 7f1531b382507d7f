/**
 * The real engine end to end: Pulumi CLI + nodejs language host + envctl's dynamic providers,
 * file backend in a temp ENVCTL_HOME, real Docker, a real temp git repo.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { destroy } from "../../cli/commands/destroy";
import { preview } from "../../cli/commands/preview";
import { up } from "../../cli/commands/up";
import { Catalog } from "../../lib/catalog/catalog";
import { UserError } from "../../lib/core/errors";
import type { Home } from "../../lib/core/home";
import {
  branches,
  capture,
  DEMO,
  dockerLeftovers,
  envName,
  httpGet,
  makeRepo,
  postgresAnswers,
  ROOT,
  tempHome,
  worktreeDirs,
} from "../support/env";

interface Outputs {
  block: number;
  worktree: string;
  branch: string;
  services: Record<string, { ports: Record<string, number>; urls: string[] }>;
}

function assertNothingLeft(home: Home, repo: string, name: string): void {
  assert.deepEqual(
    dockerLeftovers(name),
    { containers: [], volumes: [], networks: [] },
    "docker objects left",
  );
  assert.ok(!worktreeDirs(repo).some((d) => d.endsWith(`/${name}`)), "worktree left");
  assert.ok(!branches(repo).includes(`${name}-workspace`), "branch left");
  assert.ok(!fs.existsSync(path.join(home.worktreesDir, name)), "worktree dir left");
  const catalog = Catalog.open(home.catalogFile);
  try {
    assert.equal(catalog.getEnv(name), undefined, "catalog row left");
    assert.equal(catalog.getLease(name), undefined, "port lease left");
  } finally {
    catalog.close();
  }
  assert.ok(!fs.existsSync(path.join(ROOT, `Pulumi.${name}.yaml`)), "stack config in the install");
  assert.ok(!fs.existsSync(path.join(home.projectDir, `Pulumi.${name}.yaml`)), "stack config left");
  const stacks = path.join(home.stateDir, ".pulumi", "stacks", "envctl");
  assert.ok(!fs.existsSync(path.join(stacks, `${name}.json`)), "stack state left");
}

describe("devenv on the real engine", { timeout: 15 * 60_000 }, () => {
  const home = tempHome();
  const repo = makeRepo({ copyFrom: DEMO });
  const spec = path.join(repo, "envctl.yaml");
  const name = envName("demo");
  let cleanup = [name];

  before(() => {
    assert.ok(fs.existsSync(spec));
  });
  after(async () => {
    for (const n of cleanup)
      await destroy({ name: n, home, cwd: repo, force: true, yes: true, log: () => {} }).catch(
        () => {},
      );
  });

  it("up -> every port answers -> preview no changes -> env change previews exactly one update -> destroy leaves nothing", async () => {
    const c = capture();
    const out = (await up({
      name,
      file: spec,
      yes: true,
      home,
      cwd: repo,
      ...c.seams,
    })) as unknown as Outputs;
    assert.equal(out.branch, `${name}-workspace`);
    assert.equal(out.worktree, path.join(home.worktreesDir, name));
    assert.ok(worktreeDirs(repo).includes(out.worktree), "worktree registered with git");
    const base = 10000 + 1000 * out.block;
    assert.equal(out.services.db!.ports["5432"], base + 432);
    assert.equal(out.services.web!.ports["8080"], base);
    assert.ok(await postgresAnswers(base + 432), "postgres answers on its host port");
    const res = await httpGet(`http://127.0.0.1:${base}/`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { greeting: "hello from envctl", db: true });
    assert.ok(
      c.log.some((l) => /Container .*-web: created/.test(l)),
      "progress lines streamed",
    );

    // Pulumi by hand, as the README says (`eval "$(envctl env)"`, then pulumi), from anywhere:
    // the same program and the same stack settings, so no changes. Nothing lands in the install.
    assert.ok(!fs.existsSync(path.join(ROOT, `Pulumi.${name}.yaml`)), "settings in the install");
    assert.ok(fs.existsSync(path.join(home.projectDir, `Pulumi.${name}.yaml`)), "settings file");
    const byHand = spawnSync(
      "bash",
      [
        "-c",
        `eval "$(node ${JSON.stringify(path.join(ROOT, "dist", "cli", "index.js"))} env)" && ` +
          `pulumi preview --stack ${name} --non-interactive`,
      ],
      { cwd: repo, env: { ...process.env, ENVCTL_HOME: home.root }, encoding: "utf8" },
    );
    assert.equal(byHand.status, 0, byHand.stderr);
    assert.match(byHand.stdout, /\d+ unchanged/);
    assert.doesNotMatch(byHand.stdout, /to (create|update|replace|delete)/);

    const same = await preview({ name, file: spec, home, cwd: repo, ...capture().seams });
    assert.deepEqual(
      Object.entries(same.changes).filter(([k, v]) => k !== "same" && v > 0),
      [],
    );

    fs.writeFileSync(
      spec,
      fs.readFileSync(spec, "utf8").replace("GREETING: hello from envctl", "GREETING: changed"),
    );
    const pc = capture();
    await preview({ name, file: spec, json: true, home, cwd: repo, ...pc.seams });
    const doc = JSON.parse(pc.out.join("")) as {
      changes: Record<string, number>;
      operations: { op: string; name: string; diffs?: string[] }[];
    };
    assert.deepEqual(
      doc.operations.map((o) => [o.op, o.name, o.diffs]),
      [["replace", `${name}-web`, ["env"]]],
    );
    assert.equal(doc.changes.replace, 1);

    await up({ name, file: spec, yes: true, home, cwd: repo, ...capture().seams });
    const changed = await httpGet(`http://127.0.0.1:${base}/`);
    assert.equal((JSON.parse(changed.body) as { greeting: string }).greeting, "changed");
    assert.ok(await postgresAnswers(base + 432), "db untouched by the web update");

    await destroy({ name, home, cwd: repo, yes: true, ...capture().seams });
    assertNothingLeft(home, repo, name);
    cleanup = cleanup.filter((n) => n !== name);
  });

  it("a duplicate up with a different spec updates the same env; destroy of an unknown env is a clear error", async () => {
    const web = makeRepo({ copyFrom: DEMO });
    const webSpec = path.join(web, "envctl.yaml");
    // web alone: drop the db service and the dependency on it
    const text = fs.readFileSync(webSpec, "utf8");
    fs.writeFileSync(
      webSpec,
      text.replace(/ {2}db:\n( {4}.*\n)*/m, "").replace("    depends_on: [db]\n", ""),
    );
    const n = envName("dup");
    cleanup.push(n);
    const first = (await up({
      name: n,
      file: webSpec,
      yes: true,
      home,
      cwd: web,
      ...capture().seams,
    })) as unknown as Outputs;
    fs.writeFileSync(
      webSpec,
      fs.readFileSync(webSpec, "utf8").replace("GREETING: hello from envctl", "GREETING: second"),
    );
    const second = (await up({
      name: n,
      file: webSpec,
      yes: true,
      home,
      cwd: web,
      ...capture().seams,
    })) as unknown as Outputs;
    assert.equal(second.block, first.block, "same port block");
    const catalog = Catalog.open(home.catalogFile);
    assert.deepEqual(catalog.listEnvs().filter((e) => e.name === n).length, 1);
    catalog.close();
    const res = await httpGet(`http://127.0.0.1:${10000 + 1000 * second.block}/`);
    assert.equal((JSON.parse(res.body) as { greeting: string }).greeting, "second");

    await assert.rejects(
      destroy({ name: envName("ghost"), home, cwd: web, yes: true, ...capture().seams }),
      (err: unknown) =>
        err instanceof UserError && err.exitCode === 2 && /does not exist/.test(err.message),
    );
    await destroy({ name: n, home, cwd: web, yes: true, ...capture().seams });
    assertNothingLeft(home, web, n);
    cleanup = cleanup.filter((x) => x !== n);
  });
});
