/**
 * The GitHub workflows envctl ships for users (presets/hivesync/.github/workflows): checked by
 * actionlint (built by scripts/setup from the Go module proxy), and read for what they promise:
 * a preview on pull requests, one deploy at a time on main with `--yes --json` (no prompt in
 * CI), and AWS credentials from the repository's OIDC role, never long-lived keys.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument -- JSON documents read back from the CLI */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import * as YAML from "yaml";
import { ROOT, tempDir } from "../support/env";

const DIR = path.join(ROOT, "presets", "hivesync", ".github", "workflows");
const ACTIONLINT = path.join(ROOT, ".toolchain", "bin", "actionlint");
const files = fs.readdirSync(DIR).filter((f) => f.endsWith(".yml"));
const read = (f: string): Record<string, any> =>
  YAML.parse(fs.readFileSync(path.join(DIR, f), "utf8")) as Record<string, any>;
const lint = (...paths: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(ACTIONLINT, ["-no-color", ...paths], { encoding: "utf8" });

describe("the shipped GitHub workflows", () => {
  const scratch = tempDir("workflows");
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it("are the preview and the deploy workflow", () => {
    assert.deepEqual(files.sort(), ["envctl-deploy.yml", "envctl-preview.yml"]);
  });

  it("pass actionlint", () => {
    assert.ok(
      fs.existsSync(ACTIONLINT),
      `${ACTIONLINT} is missing: run bash scripts/setup testtools`,
    );
    const r = lint(...files.map((f) => path.join(DIR, f)));
    assert.equal(r.status, 0, `${String(r.stdout)}${String(r.stderr)}`);
    assert.equal(r.stdout, "");
  });

  it("actionlint catches a broken one (the check can fail)", () => {
    const dir = path.join(scratch, ".github", "workflows");
    fs.mkdirSync(dir, { recursive: true });
    const broken = fs
      .readFileSync(path.join(DIR, "envctl-deploy.yml"), "utf8")
      .replace("${{ secrets.PULUMI_BACKEND_URL }}", "${{ secret.PULUMI_BACKEND_URL }}");
    fs.writeFileSync(path.join(dir, "deploy.yml"), broken);
    const r = lint(path.join(dir, "deploy.yml"));
    assert.equal(r.status, 1);
    assert.match(String(r.stdout), /deploy\.yml:\d+:\d+: undefined variable "secret"/);
  });

  it("preview on pull requests: --json, summarized in the job summary and a comment", () => {
    const w = read("envctl-preview.yml");
    assert.deepEqual(Object.keys(w.on), ["pull_request"]);
    const steps = w.jobs.preview.steps as { run?: string }[];
    const run = steps.map((s) => s.run ?? "").join("\n");
    assert.match(run, /envctl preview "\$ENV_NAME" -f "\$SPEC" --json/);
    assert.match(run, /GITHUB_STEP_SUMMARY/);
    assert.match(run, /gh pr comment/);
    assert.equal(w.permissions["pull-requests"], "write");
  });

  it("deploy on main: one at a time per env, never cancelled midway, --yes --json", () => {
    const w = read("envctl-deploy.yml");
    assert.deepEqual(w.on.push.branches, ["main"]);
    assert.match(w.concurrency.group, /^envctl-deploy-\$\{\{ vars\.ENVCTL_ENV/);
    assert.equal(w.concurrency["cancel-in-progress"], false);
    const run = (w.jobs.deploy.steps as { run?: string }[]).map((s) => s.run ?? "").join("\n");
    assert.match(run, /envctl up "\$ENV_NAME" -f "\$SPEC" --yes --wait --generate-secrets --json/);
    assert.match(run, /envctl infra "\$ENV_NAME" apply --wait --json/);
  });

  it("take cloud credentials from the OIDC role and secrets from the repository, never keys in the file", () => {
    for (const f of files) {
      const text = fs.readFileSync(path.join(DIR, f), "utf8");
      const w = read(f);
      assert.equal(w.permissions["id-token"], "write", f);
      const job = Object.values(w.jobs as Record<string, { steps: Record<string, any>[] }>)[0]!;
      const aws = job.steps.find((s) =>
        String(s.uses).startsWith("aws-actions/configure-aws-credentials@"),
      );
      assert.ok(aws, f);
      assert.deepEqual(Object.keys(aws.with).sort(), ["aws-region", "role-to-assume"], f);
      assert.doesNotMatch(
        text,
        /aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID/,
        f,
      );
      for (const v of ["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "LINODE_TOKEN"]) {
        assert.equal(w.env[v], `\${{ secrets.${v} }}`, `${f}: ${v}`);
      }
    }
  });

  it("install the provider plugins the stack needs (a Linode VM's) before envctl runs, when asked", () => {
    for (const f of files) {
      const job = Object.values(
        read(f).jobs as Record<string, { steps: Record<string, any>[] }>,
      )[0]!;
      const at = job.steps.findIndex((s) => s.name === "Provider plugins");
      assert.ok(at >= 0, `${f}: a Provider plugins step`);
      const step = job.steps[at]!;
      assert.equal(step.if, "${{ vars.ENVCTL_PLUGINS != '' }}", f);
      assert.match(String(step.run), /pulumi plugin install resource "\$name" "\$version"/, f);
      const envctl = job.steps.findIndex((s) =>
        /\benvctl (up|preview|infra)\b/.test(String(s.run ?? "")),
      );
      assert.ok(at < envctl, `${f}: before envctl runs`);
      // The step's parsing, run as bash: "linode v5.1.1, aws v7.48.0" is two installs.
      const script = String(step.run).replace(/pulumi plugin install/g, "echo install");
      const out = spawnSync("bash", ["-c", script], {
        env: { PLUGINS: "linode v5.1.1, aws v7.48.0", PATH: process.env.PATH },
        encoding: "utf8",
      });
      assert.equal(out.stdout, "install resource linode v5.1.1\ninstall resource aws v7.48.0\n", f);
    }
  });
});
