/**
 * The built CLI as a user runs it: `bin/envctl` in a child process, a fresh ENVCTL_HOME per test,
 * a temp git repo as cwd, stdin closed. Bad input must exit 2 with a dot-path message, print no
 * stack and create nothing; one real-engine round trip checks the `--json` contract end to end.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { Catalog } from "../../lib/catalog/catalog";
import { ENV_NAME_MAX } from "../../lib/core/names";
import { MAX_BLOCK } from "../../lib/spec/ports";
import { assertCreatedNothing, assertNoTrace, envctl, envSandbox, said } from "../support/cli";
import {
  branches,
  dockerLeftovers,
  envName,
  makeRepo,
  tempDir,
  worktreeDirs,
} from "../support/env";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require("../../package.json") as { version: string };

/** A fresh home and repo per test, removed afterwards even when the test fails. */
const scratch: string[] = [];
function sandbox(files: Record<string, string> = {}): { home: string; repo: string } {
  const home = tempDir("home");
  const repo = makeRepo({ files: { "README.md": "e2e\n", ...files } });
  scratch.push(home, repo);
  return { home, repo };
}
function cleanScratch(): void {
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

const IMAGE = "debian:bookworm";

interface BadCase {
  title: string;
  /** Env name; a valid unique one when omitted. */
  name?: string;
  /** envctl.yaml in the repo; a valid one-service spec when omitted. */
  spec?: string | ((ctx: { notRepo: string }) => string);
  args?: string[];
  /** Every pattern must appear on stderr. */
  expect: RegExp[];
}

const okSpec = `services:\n  web:\n    image: ${IMAGE}\n`;

const BAD_INPUT: BadCase[] = [
  { title: "an uppercase name", name: "UPPER", expect: [/"UPPER"/, /lowercase/] },
  { title: "a name with a space", name: "has space", expect: [/"has space"/, /space/] },
  { title: 'the name ".."', name: "..", expect: [/invalid env name/, /\.\./] },
  { title: "a name with a slash", name: "a/b", expect: [/"a\/b"/, /"\/"/] },
  {
    title: `a ${ENV_NAME_MAX + 1}-character name`,
    name: "a".repeat(ENV_NAME_MAX + 1),
    expect: [/invalid env name/, new RegExp(`at most ${ENV_NAME_MAX} characters`)],
  },
  {
    title: "a missing spec file",
    args: ["-f", "nope.yaml"],
    expect: [/nope\.yaml/, /no such file/],
  },
  {
    title: "malformed YAML",
    spec: `services:\n  web:\n    image: ${IMAGE}\n   ports: [80\n`,
    expect: [/envctl\.yaml:\d+:\d+/, /invalid YAML/],
  },
  {
    title: 'an unknown field "imagee"',
    spec: `services:\n  web:\n    imagee: ${IMAGE}\n`,
    expect: [/services\.web: unknown field "imagee"/, /did you mean "image"/],
  },
  {
    title: "port 0",
    spec: `services:\n  web:\n    image: ${IMAGE}\n    ports: [0]\n`,
    expect: [/services\.web\.ports\[0\]: must be 1\.\.65535/],
  },
  {
    title: "port 70000",
    spec: `services:\n  web:\n    image: ${IMAGE}\n    ports: [70000]\n`,
    expect: [/services\.web\.ports\[0\]: must be 1\.\.65535/],
  },
  {
    title: "two services on the same host offset (7233 and 8233)",
    spec: `services:\n  temporal:\n    image: ${IMAGE}\n    ports: [7233]\n  admin:\n    image: ${IMAGE}\n    ports: [8233]\n`,
    expect: [/services\.admin\.ports\[0\]/, /offset 233/, /services\.temporal/, /7233/, /8233/],
  },
  {
    title: "depends_on naming an unknown service",
    spec: `services:\n  web:\n    image: ${IMAGE}\n    depends_on: [ghost]\n`,
    expect: [/services\.web\.depends_on\[0\]: unknown service "ghost"/],
  },
  {
    title: "a three-service dependency cycle",
    spec: ["alpha", "beta", "gamma"]
      .map((s, i, all) => `  ${s}:\n    image: ${IMAGE}\n    depends_on: [${all[(i + 1) % 3]}]\n`)
      .reduce((acc, s) => acc + s, "services:\n"),
    expect: [/services: dependency cycle/, /alpha/, /beta/, /gamma/],
  },
  {
    title: "a repo that is not a git repository",
    spec: ({ notRepo }) => `repo: ${notRepo}\n${okSpec}`,
    expect: [/repo: .* is not a git repository/],
  },
  {
    title: "a base branch that does not exist",
    spec: `base: no-such-branch\n${okSpec}`,
    expect: [/base: "no-such-branch" is not a branch or commit/],
  },
  {
    title: "a build context that is not in the repo (what validate reports, before anything)",
    spec: "services:\n  web:\n    build: ./nope\n",
    expect: [/the spec would fail to run: services\.web\.build: /, /\(nothing was created/],
  },
  {
    title: "a process whose program is not installed",
    spec: "services:\n  api:\n    cmd: no-such-program-7q --serve\n",
    expect: [/services\.api\.cmd: "no-such-program-7q" is not installed/],
  },
];

describe(
  "envctl up: bad input exits 2, explains itself and creates nothing",
  { concurrency: true },
  () => {
    after(cleanScratch);

    for (const c of BAD_INPUT) {
      it(c.title, async () => {
        const notRepo = tempDir("notrepo");
        scratch.push(notRepo);
        const spec = typeof c.spec === "function" ? c.spec({ notRepo }) : (c.spec ?? okSpec);
        const { home, repo } = sandbox({ "envctl.yaml": spec });
        const name = c.name ?? envName("bad");

        const r = await envctl(["up", name, ...(c.args ?? ["-f", "envctl.yaml"]), "--yes"], {
          home,
          cwd: repo,
        });

        assert.equal(r.code, 2, said(r));
        for (const re of c.expect) assert.match(r.stderr, re, said(r));
        assert.equal(r.stdout, "", `nothing on stdout\n${said(r)}`);
        assertNoTrace(r);
        assertCreatedNothing(home, repo, name);
        assert.deepEqual(fs.readdirSync(notRepo), [], "nothing written into the non-repo");
      });
    }

    it("spawn refuses what validate refuses, creating nothing", async () => {
      const { home, repo } = sandbox({ "envctl.yaml": "services:\n  web:\n    build: ./nope\n" });
      const name = envName("bad");
      const r = await envctl(["spawn", name, "-f", "envctl.yaml", "--no-open"], {
        home,
        cwd: repo,
      });
      assert.equal(r.code, 2, said(r));
      assert.match(r.stderr, /services\.web\.build: /, said(r));
      assertNoTrace(r);
      assertCreatedNothing(home, repo, name);
    });

    it("preview rejects the same input the same way", async () => {
      const { home, repo } = sandbox({
        "envctl.yaml": BAD_INPUT.find((c) => c.title === "port 0")!.spec as string,
      });
      const name = envName("bad");
      for (const args of [
        ["preview", "UPPER"],
        ["preview", name, "--json"],
      ]) {
        const r = await envctl(args, { home, cwd: repo });
        assert.equal(r.code, 2, said(r));
        assert.equal(r.stdout, "", said(r));
        assertNoTrace(r);
        assertCreatedNothing(home, repo, name);
      }
    });
  },
);

describe("envctl basics", { concurrency: true }, () => {
  after(cleanScratch);

  it("--version prints the package version", async () => {
    const { home, repo } = sandbox();
    const r = await envctl(["--version"], { home, cwd: repo });
    assert.equal(r.code, 0, said(r));
    assert.equal(r.stdout.trim(), version);
  });

  it("--help lists every user command", async () => {
    const { home, repo } = sandbox();
    const r = await envctl(["--help"], { home, cwd: repo });
    assert.equal(r.code, 0, said(r));
    for (const cmd of ["up", "preview", "destroy", "list", "outputs", "env"]) {
      assert.match(r.stdout, new RegExp(`^\\s+${cmd}\\b`, "m"), `help lists ${cmd}\n${said(r)}`);
    }
  });

  it("an unknown command exits 2", async () => {
    const { home, repo } = sandbox();
    const r = await envctl(["frobnicate"], { home, cwd: repo });
    assert.equal(r.code, 2, said(r));
    assert.match(r.stderr, /unknown command 'frobnicate'/);
    assertNoTrace(r);
  });

  it("destroy of an unknown env exits 2 saying it does not exist", async () => {
    const { home, repo } = sandbox();
    const name = envName("ghost");
    const r = await envctl(["destroy", name, "--yes"], { home, cwd: repo });
    assert.equal(r.code, 2, said(r));
    assert.match(r.stderr, new RegExp(`${name} does not exist`));
    assertNoTrace(r);
    assertCreatedNothing(home, repo, name);
  });

  it("list --json on an empty home is exactly one JSON document", async () => {
    const { home, repo } = sandbox();
    const r = await envctl(["list", "--json"], { home, cwd: repo });
    assert.equal(r.code, 0, said(r));
    const doc = JSON.parse(r.stdout) as { version: number; kind: string; envs: unknown[] };
    assert.equal(doc.version, 1);
    assert.equal(doc.kind, "list");
    assert.deepEqual(doc.envs, []);
    assert.equal(r.stderr, "", said(r));
  });

  it("env prints the backend and a 0600 passphrase file, never the passphrase", async () => {
    const { home, repo } = sandbox();
    const r = await envctl(["env"], { home, cwd: repo });
    assert.equal(r.code, 0, said(r));
    assert.ok(
      r.stdout.split("\n").includes(`export PULUMI_BACKEND_URL='file://${home}/state'`),
      said(r),
    );
    const file = path.join(home, "passphrase");
    assert.ok(
      r.stdout.split("\n").includes(`export PULUMI_CONFIG_PASSPHRASE_FILE='${file}'`),
      said(r),
    );
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, "passphrase file mode");
    const secret = fs.readFileSync(file, "utf8").trim();
    assert.ok(secret.length >= 16, "a real passphrase was generated");

    const json = await envctl(["env", "--json"], { home, cwd: repo });
    assert.equal(json.code, 0, said(json));
    assert.equal(
      (JSON.parse(json.stdout) as Record<string, string>).PULUMI_CONFIG_PASSPHRASE_FILE,
      file,
    );
    assert.equal(fs.readFileSync(file, "utf8").trim(), secret, "the passphrase is generated once");
    for (const out of [r.stdout, r.stderr, json.stdout, json.stderr]) {
      assert.ok(!out.includes(secret), "passphrase printed");
    }
  });
  it("env does not echo a passphrase taken from PULUMI_CONFIG_PASSPHRASE", async () => {
    const { home, repo } = sandbox();
    const secret = "e2e-not-to-be-printed-7f3a";
    const r = await envctl(["env"], { home, cwd: repo, env: { PULUMI_CONFIG_PASSPHRASE: secret } });
    assert.equal(r.code, 0, said(r));
    assert.ok(
      !r.stdout.includes(secret) && !r.stderr.includes(secret),
      `passphrase printed\n${said(r)}`,
    );
  });
});

describe(
  "envctl up -> list -> outputs -> destroy on the real engine (--json)",
  { timeout: 10 * 60_000 },
  () => {
    const name = envName("e2e");
    const spec = [
      "services:",
      "  app:",
      `    image: ${IMAGE}`,
      "    command: sleep infinity",
      "    health:",
      '      command: "true"',
      "      interval: 200ms",
      "",
    ].join("\n");
    const { home, repo } = envSandbox(name, { "envctl.yaml": spec });

    it("stdout carries exactly one JSON document per command and destroy leaves nothing", async () => {
      const upRun = await envctl(["up", name, "-f", "envctl.yaml", "--yes", "--json"], {
        home,
        cwd: repo,
      });
      assert.equal(upRun.code, 0, said(upRun));
      assertNoTrace(upRun);
      assert.doesNotMatch(upRun.stdout, /\x1b\[/, "no terminal escapes on stdout");
      const up = JSON.parse(upRun.stdout) as {
        version: number;
        kind: string;
        env: string;
        outputs: { branch: string; worktree: string; services: Record<string, unknown> };
      };
      assert.equal(up.version, 1);
      assert.equal(up.kind, "up");
      assert.equal(up.env, name);
      assert.equal(up.outputs.branch, `${name}-workspace`);
      assert.equal(up.outputs.worktree, path.join(home, "worktrees", name));
      assert.ok(worktreeDirs(repo).includes(up.outputs.worktree), "worktree registered with git");
      assert.ok(branches(repo).includes(`${name}-workspace`));
      assert.equal(dockerLeftovers(name).containers.length, 1, "one container running");

      const listRun = await envctl(["list", "--json"], { home, cwd: repo });
      assert.equal(listRun.code, 0, said(listRun));
      const list = JSON.parse(listRun.stdout) as {
        version: number;
        envs: { name: string; status: string }[];
      };
      assert.equal(list.version, 1);
      assert.deepEqual(
        list.envs.map((e) => [e.name, e.status]),
        [[name, "ready"]],
      );

      const outRun = await envctl(["outputs", name, "--json"], { home, cwd: repo });
      assert.equal(outRun.code, 0, said(outRun));
      const outputs = JSON.parse(outRun.stdout) as {
        version: number;
        kind: string;
        outputs: { branch: string };
      };
      assert.equal(outputs.version, 1);
      assert.equal(outputs.kind, "outputs");
      assert.equal(outputs.outputs.branch, `${name}-workspace`);

      const downRun = await envctl(["destroy", name, "--yes", "--json"], { home, cwd: repo });
      assert.equal(downRun.code, 0, said(downRun));
      assertNoTrace(downRun);
      const down = JSON.parse(downRun.stdout) as { version: number; kind: string; env: string };
      assert.deepEqual([down.version, down.kind, down.env], [1, "destroy", name]);

      assertCreatedNothing(home, repo, name, true);
      const emptied = JSON.parse(
        (await envctl(["list", "--json"], { home, cwd: repo })).stdout,
      ) as { envs: unknown[] };
      assert.deepEqual(emptied.envs, []);
    });
  },
);

describe("a host port browsers refuse: spawn and up warn", { timeout: 10 * 60_000 }, () => {
  const name = envName("unsafe");
  const spec = `services:\n  web:\n    image: ${IMAGE}\n    command: sleep infinity\n    ports: [8080]\n`;
  const { home, repo } = envSandbox(name, { "envctl.yaml": spec });

  it("block 0 + 80 = 10080: a warning naming service and dot-path; destroy leaves nothing", async () => {
    // Leased beforehand, so the env gets block 0 whatever else holds host ports here.
    const catalog = Catalog.open(path.join(home, "catalog.db"));
    catalog.leaseBlock(name, MAX_BLOCK, (b) => b === 0);
    catalog.close();
    const warning =
      /^warning: services\.web\.ports\[0\]: host port 10080 \(block 0 \+ 80\) is refused by browsers \(ERR_UNSAFE_PORT\); set an offset$/m;

    const spawned = await envctl(["spawn", name, "-f", "envctl.yaml", "--no-open"], {
      home,
      cwd: repo,
    });
    assert.equal(spawned.code, 0, said(spawned));
    assert.match(spawned.stderr, warning, said(spawned));
    // Warm publishes 10080, which something else on this machine may hold: the warning comes
    // before the update either way.
    const warmed = await envctl(["up", name, "-f", "envctl.yaml", "--yes"], { home, cwd: repo });
    assertNoTrace(warmed);
    assert.match(warmed.stderr, warning, said(warmed));

    const down = await envctl(["destroy", name, "--yes", "--force"], { home, cwd: repo });
    assert.equal(down.code, 0, said(down));
    assertCreatedNothing(home, repo, name, true);
  });
});

describe("a spec in a subdirectory of its repo, up for real", { timeout: 10 * 60_000 }, () => {
  const name = envName("subdir");
  const { home, repo } = envSandbox(name, {
    "presets/app/envctl.yaml": [
      "services:",
      "  app:",
      "    build: ./img",
      "    command: sleep infinity",
      '    volumes: ["./conf:/conf:ro"]',
    ].join("\n"),
    "presets/app/img/Dockerfile": `FROM ${IMAGE}\nCOPY built.txt /built.txt\n`,
    "presets/app/img/built.txt": "built from presets/app/img\n",
    "presets/app/conf/app.conf": "committed\n",
  });

  it("up -f presets/app/envctl.yaml from the repo root builds and mounts from the worktree", async () => {
    // The checkout's copy changes after the commit: the env must see the worktree's.
    fs.writeFileSync(path.join(repo, "presets/app/conf/app.conf"), "checkout\n");
    const r = await envctl(["up", name, "-f", "presets/app/envctl.yaml", "--yes"], {
      home,
      cwd: repo,
    });
    assert.equal(r.code, 0, said(r));
    assertNoTrace(r);
    const cat = (file: string): string =>
      execFileSync("docker", ["exec", `envctl-${name}-app`, "cat", file], { encoding: "utf8" });
    assert.equal(cat("/built.txt"), "built from presets/app/img\n");
    assert.equal(cat("/conf/app.conf"), "committed\n");

    const down = await envctl(["destroy", name, "--yes", "--force"], { home, cwd: repo });
    assert.equal(down.code, 0, said(down));
    assertCreatedNothing(home, repo, name, true);
  });
});
