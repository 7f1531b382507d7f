/**
 * A spec that sits in a subdirectory of its repo (`envctl up demo -f presets/demo/envctl.yaml`
 * from the repo root), loaded, resolved and built under Pulumi mocks: its relative paths are the
 * same places inside the env's worktree, as compose resolves them from the compose file.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { resolveHome } from "../../lib/core/home";
import { resolveEnv } from "../../lib/kinds/devenv/resolve";
import { loadSpec } from "../../lib/spec/sources";
import { makeRepo } from "../support/env";
import { construct, plain, reg, T } from "./harness";

const SPEC = [
  "services:",
  "  db:",
  "    build: ./db",
  '    volumes: ["./conf:/etc/conf:ro", "/var/run/docker.sock:/var/run/docker.sock"]',
  "  web: { cmd: ./run.sh, dir: web }",
  "  tool: { cmd: 'true' }",
  "init: [./seed.sh]",
].join("\n");

describe("a spec in a subdirectory of its repo", () => {
  const repo = makeRepo({
    files: {
      "presets/demo/envctl.yaml": SPEC,
      "presets/demo/db/Dockerfile": "FROM scratch\n",
      "presets/demo/conf/app.conf": "x\n",
      "presets/demo/web/run.sh": "#!/bin/sh\n",
    },
  });
  after(() => fs.rmSync(repo, { recursive: true, force: true }));

  it("build context, bind mounts, process and init dirs are at the spec's place in the worktree", async () => {
    const { spec } = loadSpec({ file: "presets/demo/envctl.yaml" }, repo);
    const env = resolveEnv("sub", spec, 0, resolveHome({ ENVCTL_HOME: "/home/dev/.envctl" }));
    const c = await construct("sub", env);
    const here = path.join(env.worktreeDir, "presets", "demo");

    assert.equal(plain(reg(c, T.Image, "sub-db-image")).context, path.join(here, "db"));
    assert.deepEqual(
      (plain(reg(c, T.Container, "sub-db")).volumes as { source: string }[]).map((v) => v.source),
      [path.join(here, "conf"), "/var/run/docker.sock"],
      "a bind mount inside the repo comes from the worktree; one outside stays",
    );
    assert.equal(plain(reg(c, T.Process, "sub-web")).cwd, path.join(here, "web"));
    assert.equal(plain(reg(c, T.Process, "sub-tool")).cwd, here);
    const steps = plain(reg(c, T.Init, "sub-init")).steps as { dir: string }[];
    assert.deepEqual(
      steps.map((st) => st.dir),
      ["presets/demo"],
    );
  });
});
