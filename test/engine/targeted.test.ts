/**
 * A targeted `pulumi up` of one component subtree (lib/kinds/copilot/infra.ts subtreeTarget),
 * for real: the mechanism `envctl infra NAME apply` runs on the copilot stack's AWS part, whose
 * provider plugin cannot be installed here. On a devenv made cold, the desired state turned
 * warm, and only the container services' subtree targeted: their components and containers are
 * created, and what the program also wants but is not targeted (first-warm init) is not.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { Catalog } from "../../lib/catalog/catalog";
import { ensureConfig, openEngine, stackConfig } from "../../lib/engine/automation";
import { readStack } from "../../lib/engine/state";
import { runUp } from "../../lib/engine/update";
import { subtreeTarget } from "../../lib/kinds/copilot/infra";
import { resolveHome } from "../../lib/core/home";
import { envctl, said } from "../support/cli";
import { DEMO, dockerLeftovers, envName, makeRepo, tempDir } from "../support/env";

describe("a targeted update of one subtree", { timeout: 5 * 60_000 }, () => {
  const home = tempDir("home");
  // The demo plus a first-warm init step: something the warm program registers outside the
  // container services' subtree, so the test sees an untargeted create skipped.
  const repo = makeRepo({
    copyFrom: DEMO,
    files: {
      "envctl.yaml":
        fs.readFileSync(path.join(DEMO, "envctl.yaml"), "utf8") +
        "\ninit:\n  - name: seed\n    run: touch seeded\n",
    },
  });
  const name = envName("tgt");
  after(async () => {
    await envctl(["destroy", name, "--yes", "--force"], { home, cwd: repo });
    for (const d of [home, repo]) fs.rmSync(d, { recursive: true, force: true });
  });

  it("creates the targeted component and its children, and nothing untargeted", async () => {
    const spawn = await envctl(["spawn", name, "-f", "envctl.yaml", "--no-open"], {
      home,
      cwd: repo,
    });
    assert.equal(spawn.code, 0, said(spawn));
    assert.deepEqual(dockerLeftovers(name).containers, [], "the demo has no cold container");

    const h = resolveHome({ ENVCTL_HOME: home });
    const catalog = Catalog.open(h.catalogFile);
    const env = { ...catalog.getEnv(name)!.resolved!, state: "warm" as const };
    catalog.close();
    assert.equal(env.init.length, 1, "the spec's init step");
    const engine = await openEngine(h);
    await ensureConfig(engine, name, stackConfig(env));
    const target = subtreeTarget(name, "envctl:devenv:DevEnv$envctl:devenv:ContainerService");
    const res = await runUp(engine, name, { targets: [target] });
    assert.ok((res.changes.create ?? 0) > 0, JSON.stringify(res.changes));

    const held = (await readStack(engine, name)).resources.map((r) => r.type);
    const count = (t: string): number => held.filter((x) => x === t).length;
    const services = env.services.filter((s) => s.type === "container").length;
    assert.equal(count("envctl:devenv:ContainerService"), services);
    assert.equal(count("pulumi-nodejs:dynamic/envctl:Container"), services);
    assert.equal(count("pulumi-nodejs:dynamic/envctl:Init"), 0, "init is not under the target");
    const running = execFileSync("docker", ["ps", "-q", "--filter", `label=envctl.env=${name}`], {
      encoding: "utf8",
    });
    assert.equal(running.trim().split("\n").filter(Boolean).length, services);
    assert.ok(!fs.existsSync(path.join(home, "worktrees", name, "seeded")), "init did not run");
  });
});
