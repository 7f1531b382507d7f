/**
 * A shared state backend, as teams and CI use one: PULUMI_BACKEND_URL=s3://… on a real S3
 * server started here (versitygw, built by scripts/setup from the Go module proxy). Two homes
 * that share nothing but the backend and the passphrase deploy and update the same stack: the
 * second, empty like a fresh CI runner's, adopts the stack (its port block, its secrets from
 * its own env file) instead of failing or making another.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { assertNoTrace, envctl, said, type Run } from "../support/cli";
import { dockerLeftovers, envName, git, ROOT, tempDir } from "../support/env";
import { freePort } from "../support/sshd";

const VERSITYGW = path.join(ROOT, ".toolchain", "bin", "versitygw");
const BUCKET = "envctl-state";

async function listening(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => (s.destroy(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`versitygw did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const SPEC = "kind: hivesync\ncompose: docker-compose.yml\n";
/** The app: its secret comes from .env, as Compose reads it. */
const COMPOSE = [
  "services:",
  "  app:",
  "    image: debian:bookworm",
  "    command: [sleep, infinity]",
  "    environment:",
  "      API_TOKEN: ${API_TOKEN}",
  "      MODE: one",
  "",
].join("\n");

describe(
  "two homes on one S3 backend deploy and update the same stack",
  { timeout: 10 * 60_000 },
  () => {
    const root = tempDir("shared");
    const s3dir = path.join(root, "s3");
    const name = envName("shared");
    let server: ChildProcess | undefined;
    let env: Record<string, string> = {};
    const repos: Record<"a" | "b", string> = { a: "", b: "" };
    const homes = { a: path.join(root, "home-a"), b: path.join(root, "home-b") };
    const runs: Run[] = [];
    const run = async (who: "a" | "b", args: string[]): Promise<Run> => {
      const r = await envctl(args, {
        home: homes[who],
        cwd: repos[who],
        env,
        timeoutMs: 5 * 60_000,
      });
      runs.push(r);
      assertNoTrace(r);
      return r;
    };
    const containerEnv = (): string =>
      execFileSync("docker", ["inspect", "-f", "{{json .Config.Env}}", `envctl-${name}-app`], {
        encoding: "utf8",
      });

    before(async () => {
      assert.ok(
        fs.existsSync(VERSITYGW),
        `${VERSITYGW} is missing: run bash scripts/setup testtools`,
      );
      fs.mkdirSync(path.join(s3dir, BUCKET), { recursive: true });
      const port = await freePort();
      server = spawn(
        VERSITYGW,
        [
          "--access",
          "envctl-test",
          "--secret",
          "envctl-test-secret",
          "--port",
          `127.0.0.1:${port}`,
          "posix",
          s3dir,
        ],
        { stdio: "ignore" },
      );
      await listening(port, 30_000);
      env = {
        PULUMI_BACKEND_URL: `s3://${BUCKET}?endpoint=http://127.0.0.1:${port}&s3ForcePathStyle=true&region=us-east-1`,
        AWS_ACCESS_KEY_ID: "envctl-test",
        AWS_SECRET_ACCESS_KEY: "envctl-test-secret",
        PULUMI_CONFIG_PASSPHRASE: "shared-passphrase-for-tests",
      };
      // Two checkouts of one repository, as two machines have.
      for (const who of ["a", "b"] as const) {
        const dir = path.join(root, `repo-${who}`);
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "envctl.yaml"), SPEC);
        fs.writeFileSync(path.join(dir, "docker-compose.yml"), COMPOSE);
        fs.writeFileSync(path.join(dir, ".gitignore"), ".env\n");
        git(dir, "init", "-q", "-b", "main");
        git(dir, "add", "-A");
        git(dir, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "init");
        fs.writeFileSync(path.join(dir, ".env"), "API_TOKEN=tok-3f9a1c-first-value\n");
        repos[who] = dir;
      }
    });
    after(async () => {
      await envctl(["destroy", name, "--yes", "--force"], {
        home: homes.a,
        cwd: repos.a,
        env,
      }).catch(() => {});
      server?.kill();
      fs.rmSync(root, { recursive: true, force: true });
    });

    const stacksInBucket = (): string[] => {
      const dir = path.join(s3dir, BUCKET, ".pulumi", "stacks", "envctl");
      return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.json(\.gz)?$/.test(f)) : [];
    };

    it("the first home deploys; the stack lives in the bucket", async () => {
      const r = await run("a", ["up", name, "-f", "envctl.yaml", "--yes", "--json"]);
      assert.equal(r.code, 0, said(r));
      assert.deepEqual(stacksInBucket(), [`${name}.json`]);
      assert.match(containerEnv(), /"API_TOKEN=tok-3f9a1c-first-value"/);
      assert.ok(
        !fs.existsSync(path.join(homes.a, "state", ".pulumi")),
        "nothing in the home's own backend",
      );
    });

    it("a fresh home updates that stack: same block, no second stack, its own env file's secret", async () => {
      fs.writeFileSync(path.join(repos.b, ".env"), "API_TOKEN=tok-77d0e2-second-value\n");
      const r = await run("b", ["up", name, "-f", "envctl.yaml", "--yes", "--json"]);
      assert.equal(r.code, 0, said(r));
      const doc = JSON.parse(r.stdout) as { outputs: { block: number } };
      assert.equal(doc.outputs.block, 0);
      assert.deepEqual(stacksInBucket(), [`${name}.json`]);
      assert.match(containerEnv(), /"API_TOKEN=tok-77d0e2-second-value"/);
      assert.equal(dockerLeftovers(name).containers.length, 1);
    });

    it("the first home updates it again after the second (a spec change)", async () => {
      fs.writeFileSync(
        path.join(repos.a, "docker-compose.yml"),
        COMPOSE.replace("MODE: one", "MODE: two"),
      );
      const r = await run("a", ["up", name, "-f", "envctl.yaml", "--yes", "--json"]);
      assert.equal(r.code, 0, said(r));
      assert.match(containerEnv(), /"MODE=two"/);
      assert.match(containerEnv(), /"API_TOKEN=tok-3f9a1c-first-value"/);
      assert.deepEqual(stacksInBucket(), [`${name}.json`]);
    });

    it("the secrets are encrypted in the bucket and never printed", () => {
      const holding: string[] = [];
      const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (fs.readFileSync(p).includes("tok-")) holding.push(p);
        }
      };
      walk(s3dir);
      assert.deepEqual(holding, []);
      for (const r of runs) assert.doesNotMatch(r.stdout + r.stderr, /tok-[0-9a-f]{6}/);
    });

    it("destroy from either home removes it all", async () => {
      const r = await run("b", ["destroy", name, "--yes"]);
      assert.equal(r.code, 0, said(r));
      assert.deepEqual(dockerLeftovers(name), { containers: [], volumes: [], networks: [] });
    });
  },
);
