/**
 * Work in an env's worktree that exists nowhere else (uncommitted files, commits no other branch
 * holds) is never removed or replaced without `destroy --force`: a spec change that would replace
 * the worktree is refused by up and preview with the reason, and destroy refuses without --force.
 * Real engine, real git, real daemons.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { destroy } from "../../cli/commands/destroy";
import { preview } from "../../cli/commands/preview";
import { up } from "../../cli/commands/up";
import { UserError } from "../../lib/core/errors";
import { lossReason, unsavedWork } from "../../lib/providers/worktree";
import {
  branches,
  capture,
  envName,
  git,
  makeRepo,
  ROOT,
  tempHome,
  worktreeDirs,
} from "../support/env";

const SPEC = (base: string): string => `base: ${base}
services:
  api:
    cmd: node api/server.js
    ports: [{ container: 3000, offset: 0 }]
    health: { http: /healthz, interval: 250ms, retries: 40 }
exports:
  PORT: "{{ports.api}}"
`;

const commit = (dir: string, msg: string): void => {
  git(dir, "add", "-A");
  git(dir, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", msg);
};

describe("unsaved work in a worktree", () => {
  it("unsavedWork counts uncommitted files and commits no other ref holds", async () => {
    const repo = makeRepo({ files: { "README.md": "x\n" } });
    const dir = path.join(tempHome().worktreesDir, "w");
    git(repo, "worktree", "add", "-q", "-b", "w-workspace", dir, "main");
    const outs = { repo, dir, branch: "w-workspace", base: "main" };
    assert.deepEqual(await unsavedWork(outs), { files: [], commits: 0 });
    assert.equal(lossReason(dir, "w-workspace", await unsavedWork(outs)), undefined);
    fs.writeFileSync(path.join(dir, "wip.txt"), "unsaved\n");
    assert.deepEqual(await unsavedWork(outs), { files: ["?? wip.txt"], commits: 0 });
    commit(dir, "wip");
    assert.deepEqual(await unsavedWork(outs), { files: [], commits: 1 });
    assert.match(
      lossReason(dir, "w-workspace", await unsavedWork(outs))!,
      /has 1 commit\(s\) on w-workspace that no other branch holds$/,
    );
    // Pushed to another branch (or a tag), the commit is safe.
    git(repo, "tag", "kept", "w-workspace");
    assert.deepEqual(await unsavedWork(outs), { files: [], commits: 0 });
    fs.rmSync(repo, { recursive: true, force: true });
  });
});

describe(
  "a worktree with unsaved work is never replaced or removed",
  { timeout: 10 * 60_000 },
  () => {
    const home = tempHome();
    const repo = makeRepo({
      files: {
        "envctl.yaml": SPEC("main"),
        "api/server.js": fs.readFileSync(
          path.join(ROOT, "test", "fixtures", "devenv", "api", "server.js"),
          "utf8",
        ),
      },
    });
    git(repo, "branch", "other", "main");
    const spec = path.join(repo, "envctl.yaml");
    const name = envName("keep");
    const worktree = path.join(home.worktreesDir, name);
    after(async () => {
      await destroy({ name, home, cwd: repo, yes: true, force: true, ...capture().seams }).catch(
        () => undefined,
      );
      fs.rmSync(home.root, { recursive: true, force: true });
      fs.rmSync(repo, { recursive: true, force: true });
    });
    const seams = { home, cwd: repo, ...capture().seams };
    const refusal = (pattern: RegExp) => (err: unknown) => {
      assert.ok(err instanceof UserError, String(err));
      assert.match([err.message, ...err.details].join("\n"), pattern);
      return true;
    };

    it("up and preview refuse a base change; destroy refuses without --force", async () => {
      await up({ name, file: spec, yes: true, ...seams });
      fs.writeFileSync(path.join(worktree, "wip.txt"), "unsaved\n");
      fs.writeFileSync(spec, SPEC("other"));

      const uncommitted = /has 1 uncommitted file\(s\); changing base would replace the worktree/;
      await assert.rejects(preview({ name, file: spec, ...seams }), refusal(uncommitted));
      await assert.rejects(up({ name, file: spec, yes: true, ...seams }), refusal(uncommitted));
      assert.equal(fs.readFileSync(path.join(worktree, "wip.txt"), "utf8"), "unsaved\n");
      assert.ok(worktreeDirs(repo).includes(fs.realpathSync(worktree)), "worktree replaced");

      // Committed on the env's branch only: still work that exists nowhere else.
      commit(worktree, "wip");
      await assert.rejects(
        up({ name, file: spec, yes: true, ...seams }),
        refusal(/1 commit\(s\) on .*-workspace that no other branch holds; changing base/),
      );
      await assert.rejects(
        destroy({ name, yes: true, ...seams }),
        refusal(/exists nowhere else; commit and push it, or pass --force/),
      );
      assert.ok(fs.existsSync(path.join(worktree, "wip.txt")), "a refused destroy removed work");

      // Forced: the worktree goes; the branch, which holds the commit, stays.
      fs.writeFileSync(spec, SPEC("main"));
      await destroy({ name, yes: true, force: true, ...seams });
      assert.ok(!fs.existsSync(worktree), "worktree left");
      assert.ok(
        branches(repo).includes(`${name}-workspace`),
        "the branch with the commit was deleted",
      );
      assert.equal(git(repo, "show", `${name}-workspace:wip.txt`), "unsaved\n");
    });
  },
);
