/**
 * What envctl leaves on disk and hands to user processes (real engine, real daemon): the home
 * and its state readable by this user only, the catalog, logs and pid files 0600, daemons
 * without envctl's engine variables, and no checkpoint history or backups after destroy.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { destroy } from "../../cli/commands/destroy";
import { up } from "../../cli/commands/up";
import { capture, envName, git, makeRepo, ROOT, tempHome } from "../support/env";

const SPEC = `base: main
services:
  api:
    cmd: env > env.dump; exec node api/server.js
    ports: [{ container: 3000, offset: 0 }]
    health: { http: /healthz, interval: 250ms, retries: 40 }
exports:
  PORT: "{{ports.api}}"
`;

const mode = (p: string): string => (fs.statSync(p).mode & 0o777).toString(8);

describe("files and environment", { timeout: 10 * 60_000 }, () => {
  const home = tempHome();
  const repo = makeRepo({
    files: {
      "envctl.yaml": SPEC,
      ".gitignore": "env.dump\n",
      "api/server.js": fs.readFileSync(
        path.join(ROOT, "test", "fixtures", "devenv", "api", "server.js"),
        "utf8",
      ),
    },
  });
  const name = envName("files");
  const seams = { home, cwd: repo, ...capture().seams };
  after(async () => {
    await destroy({ name, yes: true, force: true, ...seams }).catch(() => undefined);
    fs.rmSync(home.root, { recursive: true, force: true });
    fs.rmSync(repo, { recursive: true, force: true });
  });

  it("private files, a clean daemon environment, no history after destroy", async () => {
    fs.mkdirSync(home.root, { recursive: true, mode: 0o755 });
    fs.chmodSync(home.root, 0o755); // an existing home made by an older envctl is tightened
    await up({ name, file: path.join(repo, "envctl.yaml"), yes: true, ...seams });

    const state = path.join(home.envsDir, name);
    assert.deepEqual(
      {
        home: mode(home.root),
        state: mode(home.stateDir),
        project: mode(home.projectDir),
        envDir: mode(state),
        catalog: mode(home.catalogFile),
        settings: mode(path.join(home.projectDir, `Pulumi.${name}.yaml`)),
        log: mode(path.join(state, "api.log")),
        pid: mode(path.join(state, "api.pid")),
        envSh: mode(path.join(state, "env.sh")),
        passphrase: mode(path.join(home.root, "passphrase")),
      },
      {
        home: "700",
        state: "700",
        project: "700",
        envDir: "700",
        catalog: "600",
        settings: "600",
        log: "600",
        pid: "600",
        envSh: "600",
        passphrase: "600",
      },
    );

    const dump = fs.readFileSync(path.join(home.worktreesDir, name, "env.dump"), "utf8");
    const vars = new Map(
      dump
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    assert.deepEqual(
      [...vars.keys()].filter((k) => k.startsWith("PULUMI_") || k === "ENVCTL_ROOT"),
      [],
      "engine variables reached the daemon",
    );
    assert.ok(!vars.get("PATH")?.includes(".toolchain"), vars.get("PATH"));
    assert.equal(vars.get("FORCE_COLOR"), "1");
    assert.match(vars.get("PORT") ?? "", /^\d+$/, "env.sh exports still reach it");

    await destroy({ name, yes: true, ...seams });
    const pulumiDir = path.join(home.stateDir, ".pulumi");
    for (const sub of ["history", "backups"]) {
      assert.ok(!fs.existsSync(path.join(pulumiDir, sub, "envctl", name)), `${sub} left`);
    }
    const stacks = path.join(pulumiDir, "stacks", "envctl");
    assert.deepEqual(
      fs.existsSync(stacks) ? fs.readdirSync(stacks).filter((f) => f.startsWith(name)) : [],
      [],
      "checkpoint files left",
    );
    assert.equal(git(repo, "status", "--porcelain"), "");
  });
});
