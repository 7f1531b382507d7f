/**
 * `envctl validate` and `envctl doctor` as a user runs them: the built `bin/envctl` in a child
 * process, a fresh ENVCTL_HOME and a temp git repo per test. validate must create nothing (not
 * even the catalog); doctor runs against this machine's real git, Docker and Pulumi toolchain
 * (installed by scripts/setup), with PATH trimmed or a scripted `temporal` to simulate Temporal.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { Catalog } from "../../lib/catalog/catalog";
import { busyPorts } from "../../lib/runtime/probes";
import { blockBase, MAX_BLOCK } from "../../lib/spec/ports";
import { findOnPath } from "../../lib/core/toolchain";
import { envctl as runEnvctl, said, type Run } from "../support/cli";
import { DEMO, git, makeRepo, tempDir } from "../support/env";

/** The built CLI in a child process, colours off (doctor's marks are matched as text). */
function envctl(
  args: string[],
  o: { home: string; cwd: string; env?: Record<string, string> },
): Promise<Run> {
  return runEnvctl(args, { ...o, env: { NO_COLOR: "1", ...o.env } });
}

const scratch: string[] = [];
after(() => {
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function sandbox(files: Record<string, string>): { home: string; repo: string } {
  const home = tempDir("home");
  const repo = makeRepo({ files: { "README.md": "e2e\n", ...files } });
  scratch.push(home, repo);
  return { home, repo };
}

/** The lowest block whose host ports at `offsets` are free right now (no catalog). */
async function firstFreeBlock(offsets: number[]): Promise<number> {
  let n = 0;
  while ((await busyPorts(offsets.map((o) => blockBase(n) + o))).length > 0) n++;
  return n;
}

interface ValidateDoc {
  version: number;
  kind: string;
  ok: boolean;
  errors: { path: string; message: string }[];
  warnings: { path: string; message: string }[];
  order: string[];
  block: number | null;
}

describe("envctl validate", { concurrency: true }, () => {
  it("an OK spec: one summary line on stdout, exit 0, the empty home stays empty", async () => {
    const { home, repo } = sandbox({
      "envctl.yaml": [
        "services:",
        "  db: { image: debian:bookworm, ports: [{ container: 5432, offset: 931 }], health: { tcp: 5432 } }",
        "  api: { cmd: sh -c 'exec sleep 1', ports: [{ container: 3000, offset: 932 }], depends_on: [db] }",
        "  web: { cmd: ./serve.sh, dir: web, depends_on: [api] }",
      ].join("\n"),
      "web/serve.sh": "#!/bin/sh\n",
    });
    fs.chmodSync(path.join(repo, "web/serve.sh"), 0o755);
    git(repo, "add", "-A");
    git(repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "chmod");
    const n = await firstFreeBlock([931, 932]);
    const r = await envctl(["validate"], { home, cwd: repo });
    assert.equal(r.code, 0, said(r));
    assert.match(
      r.stdout,
      new RegExp(
        `^✓ spec OK: 3 services \\(1 container, 2 processes\\), start order db -> api -> web, block ${n} \\(ports ${blockBase(n)}-${blockBase(n) + 999}\\)$`,
        "m",
      ),
      said(r),
    );
    assert.match(r.stdout, /^warning: services\.web\.depends_on\[0\]: "api" has no health check/m);
    assert.equal(r.stderr, "");
    assert.deepEqual(fs.readdirSync(home), [], "nothing created in ENVCTL_HOME");
  });

  it("a home that does not exist is not created, even for a bad spec", async () => {
    const { home, repo } = sandbox({
      "envctl.yaml": "services:\n  web: { image: x, ports: [0] }\n",
    });
    const missing = path.join(home, "not-yet");
    const r = await envctl(["validate"], { home: missing, cwd: repo });
    assert.equal(r.code, 2, said(r));
    assert.match(r.stdout, /^ {2}services\.web\.ports\[0\]: must be 1\.\.65535$/m);
    assert.equal(fs.existsSync(missing), false);
  });

  it("--json: unknown dependency, cycle members and an offset collision, each with its path", async () => {
    const { home, repo } = sandbox({
      "envctl.yaml": [
        "services:",
        "  a: { image: x, depends_on: [b], ports: [7233] }",
        "  b: { image: x, depends_on: [a], ports: [8233] }",
        "  c: { image: x, depends_on: [ghost] }",
      ].join("\n"),
    });
    const r = await envctl(["validate", "--json"], { home, cwd: repo });
    assert.equal(r.code, 2, said(r));
    const doc = JSON.parse(r.stdout) as ValidateDoc;
    assert.equal(doc.kind, "validate");
    assert.equal(doc.ok, false);
    const byPath = Object.fromEntries(doc.errors.map((e) => [e.path, e.message]));
    assert.equal(byPath["services.c.depends_on[0]"], 'unknown service "ghost"');
    assert.equal(byPath["services"], "dependency cycle: a -> b -> a");
    assert.match(byPath["services.b.ports[0]"]!, /offset 233 .*services\.a port 7233/);
    assert.deepEqual(fs.readdirSync(home), []);
  });

  it("a compose file named stack.yml is read as compose; --format overrides; a bad one is exit 2", async () => {
    const { home, repo } = sandbox({
      "stack.yml": [
        "services:",
        "  a: { image: x, ports: ['7233:7233'] }",
        "  b: { image: x, ports: ['8233:8233'] }",
      ].join("\n"),
    });
    const r = await envctl(["validate", "--json", "-f", "stack.yml"], { home, cwd: repo });
    assert.equal(r.code, 0, said(r));
    const doc = JSON.parse(r.stdout) as ValidateDoc;
    // Both published ports would land on offset 233: the second takes the next free one.
    assert.deepEqual(
      doc.warnings.map((e) => e.path),
      ["services.b.ports[0]"],
    );
    assert.match(doc.warnings[0]!.message, /offset 233.*offset 234/);

    const forced = await envctl(["validate", "-f", "stack.yml", "--format", "envctl"], {
      home,
      cwd: repo,
    });
    assert.equal(forced.code, 2, said(forced));
    assert.match(forced.stdout, /^ {2}services\.a\.ports\[0\]: must be a container port/m);

    const bad = await envctl(["validate", "-f", "stack.yml", "--format", "yaml"], {
      home,
      cwd: repo,
    });
    assert.equal(bad.code, 2, said(bad));
    assert.match(bad.stdout, /--format must be "compose", "envctl" or "a3s", got "yaml"/);
    assert.deepEqual(fs.readdirSync(home), []);
  });

  it("from a repo root, a spec in a subdirectory has its paths checked from its directory", async () => {
    const demo = Object.fromEntries(
      fs
        .readdirSync(DEMO, { recursive: true, encoding: "utf8" })
        .filter((f) => fs.statSync(path.join(DEMO, f)).isFile())
        .map((f) => [`presets/demo/${f}`, fs.readFileSync(path.join(DEMO, f), "utf8")]),
    );
    const { home, repo } = sandbox({
      ...demo,
      "deploy/envctl.yaml": "repo: ..\nservices:\n  api: { cmd: ./serve.sh, dir: api }\n",
      "deploy/api/serve.sh": "#!/bin/sh\n",
    });
    fs.chmodSync(path.join(repo, "deploy/api/serve.sh"), 0o755);
    git(repo, "add", "-A");
    git(repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "chmod");
    for (const spec of ["presets/demo/envctl.yaml", "deploy/envctl.yaml"]) {
      const r = await envctl(["validate", "--json", "-f", spec], { home, cwd: repo });
      assert.equal(r.code, 0, said(r));
      const doc = JSON.parse(r.stdout) as ValidateDoc;
      assert.deepEqual(doc.errors, [], spec);
      assert.doesNotMatch(r.stdout, /not a directory|no directory|does not exist/, spec);
    }
  });

  it("a process whose program is not installed: exit 2, the path and the program named", async () => {
    const { home, repo } = sandbox({
      "envctl.yaml": "services:\n  front:\n    cmd: NODE_ENV=dev envctl-no-such-tool --dev\n",
    });
    const r = await envctl(["validate"], { home, cwd: repo });
    assert.equal(r.code, 2, said(r));
    assert.match(
      r.stdout,
      /^ {2}services\.front\.cmd: "envctl-no-such-tool" is not installed \(not found on PATH\)$/m,
    );
    assert.equal(r.stderr, "", "the report is the result: stdout only");
  });

  it("a busy host port: a warning naming service and port, and the next block", async () => {
    const { home, repo } = sandbox({
      "envctl.yaml":
        "services:\n  db:\n    image: x\n    ports: [{ container: 5432, offset: 941 }]\n",
    });
    const n = await firstFreeBlock([941]);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(blockBase(n) + 941, "0.0.0.0", resolve));
    try {
      const r = await envctl(["validate", "--json"], { home, cwd: repo });
      assert.equal(r.code, 0, said(r));
      const doc = JSON.parse(r.stdout) as ValidateDoc;
      assert.ok(doc.block !== null && doc.block > n, said(r));
      assert.deepEqual(
        doc.warnings.filter((w) => w.message.includes(`(block ${n})`)),
        [
          {
            path: "services.db.ports[0]",
            message: `host port ${blockBase(n) + 941} is in use (block ${n}); the env would get block ${doc.block}`,
          },
        ],
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("blocks leased by other envs are skipped; the catalog is read, not changed", async () => {
    const { home, repo } = sandbox({ "envctl.yaml": "services:\n  web: { image: x }\n" });
    const catalog = Catalog.open(path.join(home, "catalog.db"));
    catalog.leaseBlock("first", MAX_BLOCK);
    catalog.leaseBlock("second", MAX_BLOCK);
    catalog.close();
    const r = await envctl(["validate", "--json"], { home, cwd: repo });
    assert.equal(r.code, 0, said(r));
    assert.equal((JSON.parse(r.stdout) as ValidateDoc).block, 2);
    const after = Catalog.open(path.join(home, "catalog.db"));
    try {
      assert.deepEqual(
        after.leases().map((l) => l.env),
        ["first", "second"],
      );
      assert.deepEqual(after.listEnvs(), []);
    } finally {
      after.close();
    }
  });
});

interface DoctorDoc {
  kind: string;
  ok: boolean;
  checks: { name: string; ok: boolean; required: boolean; detail: string; fix: string | null }[];
}

/** PATH without any directory holding a `temporal` program. */
function pathWithoutTemporal(): string {
  return (process.env.PATH ?? "")
    .split(path.delimiter)
    .filter((d) => d && !findOnPath("temporal", d))
    .join(path.delimiter);
}

const TEMPORAL_SPEC = [
  "services:",
  "  db: { image: x }",
  "temporal:",
  "  address: 127.0.0.1:7233",
  "  search_attributes: { workspaceId: Keyword, conversationId: Keyword }",
].join("\n");

describe("envctl doctor", { concurrency: true }, () => {
  it("on this machine (set up by scripts/setup) every required check passes: exit 0", async () => {
    const { home, repo } = sandbox({});
    const r = await envctl(["doctor"], { home, cwd: repo });
    assert.equal(r.code, 0, said(r));
    for (const row of [
      /^✓ git +\d+\.\d+/m,
      /^✓ docker engine +\S+ \(/m,
      /^✓ pulumi CLI +v3\.\d+\.\d+ \(/m,
      /^✓ nodejs language host +\/\S+pulumi-language-nodejs$/m,
      /^✓ dynamic provider launcher +\/\S+pulumi-resource-pulumi-nodejs$/m,
    ]) {
      assert.match(r.stdout, row, said(r));
    }
    assert.match(r.stdout, /^all required checks pass$/m);
    assert.doesNotMatch(r.stdout, /temporal/i, "no spec here: no Temporal rows");
    assert.deepEqual(fs.readdirSync(home), [], "doctor creates nothing");
  });

  it("a spec with temporal and no temporal CLI: ✗ with the fix line, exit 1", async () => {
    const { home, repo } = sandbox({ "envctl.yaml": TEMPORAL_SPEC });
    const env = { PATH: pathWithoutTemporal() };
    const r = await envctl(["doctor"], { home, cwd: repo, env });
    assert.equal(r.code, 1, said(r));
    assert.match(r.stdout, /^✗ temporal CLI +not found on PATH/m);
    assert.match(r.stdout, /^ +fix: install the Temporal CLI/m);
    assert.match(r.stdout, /^1 required check failed$/m);

    const j = await envctl(["doctor", "--json", "-f", "envctl.yaml"], { home, cwd: repo, env });
    assert.equal(j.code, 1, said(j));
    const doc = JSON.parse(j.stdout) as DoctorDoc;
    assert.equal(doc.ok, false);
    const row = doc.checks.find((c) => c.name === "temporal CLI");
    assert.equal(row?.ok, false);
    assert.equal(row?.required, true);
    assert.match(row?.fix ?? "", /install the Temporal CLI/);
  });

  it("a scripted temporal CLI missing one search attribute: its create line, exit 1", async () => {
    const { home, repo } = sandbox({ "envctl.yaml": TEMPORAL_SPEC });
    const bin = tempDir("fake-temporal");
    scratch.push(bin);
    // Answers like the Temporal CLI: version, cluster health, and the search-attribute table.
    fs.writeFileSync(
      path.join(bin, "temporal"),
      [
        "#!/bin/sh",
        'case "$*" in',
        '  "--version") echo "temporal version 1.1.2 (Server 1.25.1, UI 2.31.2)" ;;',
        '  "operator cluster health --address 127.0.0.1:7233") echo SERVING ;;',
        '  "operator search-attribute list --address 127.0.0.1:7233")',
        '    printf "  Name  Type\\n  WorkflowId  Keyword\\n  workspaceId  Keyword\\n" ;;',
        '  *) echo "unexpected: $*" >&2; exit 2 ;;',
        "esac",
      ].join("\n") + "\n",
      { mode: 0o755 },
    );
    const env = { PATH: `${bin}${path.delimiter}${pathWithoutTemporal()}` };
    const r = await envctl(["doctor", "--json"], { home, cwd: repo, env });
    assert.equal(r.code, 1, said(r));
    const doc = JSON.parse(r.stdout) as DoctorDoc;
    const rows = Object.fromEntries(doc.checks.map((c) => [c.name, c]));
    assert.equal(rows["temporal CLI"]?.detail, "1.1.2");
    assert.equal(rows["temporal server"]?.ok, true);
    assert.equal(rows["search attribute workspaceId"]?.ok, true);
    assert.equal(rows["search attribute conversationId"]?.ok, false);
    assert.equal(
      rows["search attribute conversationId"]?.fix,
      "temporal operator search-attribute create --name conversationId --type Keyword --address 127.0.0.1:7233",
    );
  });
});
