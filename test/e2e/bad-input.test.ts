/**
 * The bad-input corpus (test/fixtures/bad-input/): env names, specs of every wrong type, huge,
 * binary and special files, flags, verbs on missing envs and host fields, each run through the
 * built CLI in its own home and repo. Every case must:
 *
 * - exit 2;
 * - say on the first line of stderr (`envctl: ...`) which field, flag or argument is wrong and
 *   why; further lines only indented below it (the other problems, hints), no stack trace;
 * - print nothing on stdout, at most 2 kB on stderr, no control bytes and no long run of any
 *   value it was given;
 * - create and change nothing: the home and the repo compared file by file, git's worktrees,
 *   branches and refs, and the Docker objects labelled with the env, before and after.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { Catalog } from "../../lib/catalog/catalog";
import { envctl, said as saidInFull, type Run } from "../support/cli";
import { envName, makeRepo, tempDir } from "../support/env";
import { dockerObjects, fileTree, gitState, newDockerObjects, treeDiff } from "../support/snapshot";
import { FLAGS, HOSTS, MISSING_ENVS } from "../fixtures/bad-input/args";
import { type BadInput, ENV, type Sandbox } from "../fixtures/bad-input/case";
import { COMPOSE } from "../fixtures/bad-input/compose";
import { FILES } from "../fixtures/bad-input/files";
import { NAMES } from "../fixtures/bad-input/names";
import { SPECS } from "../fixtures/bad-input/specs";

const CORPUS: [string, BadInput[]][] = [
  ["env names", NAMES],
  ["envctl.yaml fields", SPECS],
  ["compose files", COMPOSE],
  ["files that are not specs", FILES],
  ["flags", FLAGS],
  ["verbs on envs that do not exist", MISSING_ENVS],
  ["host input", HOSTS],
];

const MAX_STDERR = 2048;
/** Bad input is refused in well under a second; a run this long is a hang (a FIFO read, say). */
const RUN_TIMEOUT_MS = 20_000;

// One committed repo, copied for each case: cheaper than git init and commit 280 times.
const TEMPLATE = makeRepo({ files: { "README.md": "bad input\n" } });
after(() => fs.rmSync(TEMPLATE, { recursive: true, force: true }));

/** A home (not yet made, as on a fresh machine) and a copy of the template repo. */
function sandbox(): Sandbox & { cleanup(): void } {
  const parent = tempDir("bad");
  const home = path.join(parent, "home");
  const repo = path.join(parent, "repo");
  fs.cpSync(TEMPLATE, repo, { recursive: true });
  const run = (args: string[]): Promise<Run> =>
    envctl(args, { home, cwd: repo, timeoutMs: RUN_TIMEOUT_MS });
  return {
    home,
    repo,
    run,
    cleanup: () => fs.rmSync(parent, { recursive: true, force: true }),
  };
}

function write(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
}

/** Envs a failed case left in the catalog: destroyed so one bad case does not leak into others. */
async function undo(sb: Sandbox): Promise<void> {
  const file = path.join(sb.home, "catalog.db");
  if (!fs.existsSync(file)) return;
  const catalog = Catalog.open(file);
  const names = catalog.listEnvs().map((e) => e.name);
  catalog.close();
  for (const name of names) await sb.run(["destroy", name, "--yes", "--force"]);
}

/** What the CLI said, cut short: a failing case may have echoed megabytes. */
function said(r: Run): string {
  const cut = (s: string): string =>
    s.length > 3000 ? `${s.slice(0, 3000)}… (${s.length} bytes)` : s;
  return saidInFull({ ...r, stdout: cut(r.stdout), stderr: cut(r.stderr) });
}

/** What the first line of stderr must be, and what every other line may be. */
function assertOneLineReason(r: Run, c: BadInput, field: string): void {
  const lines = r.stderr.replace(/\n$/, "").split("\n");
  const first = lines[0] ?? "";
  assert.match(first, /^envctl: \S/, `first line is envctl's error\n${said(r)}`);
  assert.ok(first.includes(field), `first line names ${JSON.stringify(field)}\n${said(r)}`);
  assert.match(first, c.reason, `first line says what is wrong\n${said(r)}`);
  for (const l of lines.slice(1)) {
    assert.match(l, /^ {2}\S/, `only indented detail lines follow\n${said(r)}`);
  }
}

function assertBoundedOutput(r: Run): void {
  assert.equal(r.stdout, "", `nothing on stdout\n${said(r)}`);
  assert.ok(r.stderr.length < MAX_STDERR, `stderr is ${r.stderr.length} bytes\n${said(r)}`);
  assert.doesNotMatch(
    r.stderr,
    /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/,
    `control bytes printed\n${said(r)}`,
  );
  assert.doesNotMatch(r.stderr, /(.)\1{199}/su, `a long run of one value echoed\n${said(r)}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace printed\n${said(r)}`);
  assert.doesNotMatch(r.stderr, /internal error|RangeError|TypeError/, `a bug showed\n${said(r)}`);
}

async function runCase(t: TestContext, c: BadInput): Promise<void> {
  const sb = sandbox();
  try {
    const name = envName("bad");
    const args = c.args.map((a) => (a === ENV ? name : a));
    if (c.files) write(sb.repo, c.files);
    await c.setup?.(sb);

    const before = {
      home: fileTree(sb.home),
      repo: fileTree(sb.repo),
      git: gitState(sb.repo),
      docker: await dockerObjects(),
    };
    const r = await sb.run(args);
    t.diagnostic(r.stderr.split("\n")[0] ?? "");
    const after = {
      home: fileTree(sb.home),
      repo: fileTree(sb.repo),
      git: gitState(sb.repo),
      docker: await dockerObjects(),
    };
    try {
      assert.equal(r.code, 2, said(r));
      assertBoundedOutput(r);
      assertOneLineReason(r, c, typeof c.field === "string" ? c.field : c.field(sb));
      assert.deepEqual(treeDiff(before.repo, after.repo), [], "the repo's files changed");
      assert.equal(after.git, before.git, "git worktrees, branches or refs changed");
      assert.deepEqual(
        newDockerObjects(before.docker, after.docker, args),
        [],
        "Docker objects created",
      );
      assert.deepEqual(
        treeDiff(before.home, after.home),
        [],
        "files created or changed in ENVCTL_HOME",
      );
    } finally {
      await undo(sb);
    }
  } finally {
    sb.cleanup();
  }
}

describe("bad input exits 2, says what is wrong in one line, and creates nothing", () => {
  it("the corpus holds at least 100 cases, each titled once", () => {
    const all = CORPUS.flatMap(([, cases]) => cases);
    assert.ok(all.length >= 100, `${all.length} cases`);
    const titles = all.map((c) => c.title);
    assert.deepEqual(
      titles.filter((x, i) => titles.indexOf(x) !== i),
      [],
      "duplicate titles",
    );
  });

  for (const [group, cases] of CORPUS) {
    describe(group, { concurrency: 4 }, () => {
      for (const c of cases) it(c.title, (t) => runCase(t, c));
    });
  }
});
