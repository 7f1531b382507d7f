/** Two envs from the same repo at once: separate port blocks, both answering, both destroyed. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { destroy } from "../../cli/commands/destroy";
import { up } from "../../cli/commands/up";
import {
  capture,
  DEMO,
  dockerLeftovers,
  envName,
  httpGet,
  makeRepo,
  postgresAnswers,
  tempHome,
  worktreeDirs,
} from "../support/env";

describe("two envs side by side", { timeout: 15 * 60_000 }, () => {
  const home = tempHome();
  const repo = makeRepo({ copyFrom: DEMO });
  const spec = path.join(repo, "envctl.yaml");
  const names = [envName("a"), envName("b")];
  after(async () => {
    for (const n of names)
      await destroy({ name: n, home, cwd: repo, force: true, yes: true, log: () => {} }).catch(
        () => {},
      );
  });

  it("leases different blocks and both answer; destroying both leaves nothing", async () => {
    const outs: Record<string, unknown>[] = [];
    for (const n of names)
      outs.push(await up({ name: n, file: spec, yes: true, home, cwd: repo, ...capture().seams }));
    assert.notEqual(outs[0]!.block, outs[1]!.block);
    for (const o of outs) {
      const base = 10000 + 1000 * (o.block as number);
      assert.ok(await postgresAnswers(base + 432));
      assert.equal((await httpGet(`http://127.0.0.1:${base}/healthz`)).status, 200);
    }
    assert.equal(worktreeDirs(repo).length, 3, "main checkout + two worktrees");
    for (const n of names)
      await destroy({ name: n, home, cwd: repo, yes: true, ...capture().seams });
    for (const n of names)
      assert.deepEqual(dockerLeftovers(n), { containers: [], volumes: [], networks: [] });
    assert.equal(worktreeDirs(repo).length, 1);
  });
});
