/**
 * Commands that only look write nothing: not in a fresh home (it is not even made), not in one
 * with an env. Verbs on an env that does not exist refuse before creating anything; a cancelled
 * `up` prompt leaves the catalog and the stack's settings as they were; `preview` of a new env
 * leaves no stack anywhere, whether it succeeds, fails in the engine or is interrupted. Each
 * check compares the home file by file: names, types, modes, sizes, mtimes and contents.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { Catalog } from "../../lib/catalog/catalog";
import { resolveHome } from "../../lib/core/home";
import { logFilePath } from "../../lib/runtime/daemon";
import { up } from "../../cli/commands/up";
import { assertNoTrace, childEnv, envctl, envSandbox, said, type Run } from "../support/cli";
import { capture, envName, makeRepo, ROOT, scratchDirs } from "../support/env";

const scratch = scratchDirs();
const SPEC = "base: main\nservices:\n  sleeper:\n    cmd: sleep 600\n";
/** Past the 100 MB at which write paths trim a daemon's log. */
const BIG_LOG = 101 * 1024 * 1024;

/**
 * Every entry under `dir` (the dir itself as ""): type, mode, size, mtime, and a hash of the
 * content (files up to 1 MB; a bigger one by size and mtime) or a link's target. The home's own
 * mtime is left out: reading a WAL catalog makes and removes SQLite's -wal and -shm index files
 * beside it, which leaves every file as it was but touches the directory.
 */
function tree(dir: string): Record<string, string> | "absent" {
  if (!fs.existsSync(dir)) return "absent";
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    const full = path.join(dir, rel);
    const st = fs.lstatSync(full);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) {
      out[rel] = `link ${mode} -> ${fs.readlinkSync(full)}`;
    } else if (st.isDirectory()) {
      out[rel] = `dir ${mode}${rel === "" ? "" : ` ${st.mtimeMs}`}`;
      for (const e of fs.readdirSync(full).sort()) walk(path.join(rel, e));
    } else {
      const hash =
        st.size <= 1024 * 1024
          ? crypto.createHash("sha256").update(fs.readFileSync(full)).digest("hex").slice(0, 16)
          : "-";
      out[rel] = `file ${mode} ${st.size} ${st.mtimeMs} ${hash}`;
    }
  };
  walk("");
  return out;
}

/** Runs `args` and insists on `code`, with no stack trace. */
async function expectExit(
  args: string[],
  code: number,
  o: { home: string; cwd: string; env?: Record<string, string> },
): Promise<Run> {
  const r = await envctl(args, o);
  assert.equal(r.code, code, `envctl ${args.join(" ")}\n${said(r)}`);
  assertNoTrace(r);
  return r;
}

/** What refuses a name the home does not hold, with exit 2. */
const MISSING_ENV_VERBS: string[][] = [
  ["warm"],
  ["cool"],
  ["start"],
  ["stop"],
  ["destroy", "--yes"],
  ["recover"],
  ["outputs"],
  ["status"],
  ["logs"],
  ["open"],
].map(([verb, ...flags]) => [verb!, "no-such-env", ...flags]);

const HOST_READS = [
  ["host", "list"],
  ["host", "list", "--json"],
  ["host", "show", "localhost"],
  ["host", "stale", "--max-age", "1h"],
];

describe("read commands in a fresh home", () => {
  it("write nothing and do not make the home", async () => {
    const home = path.join(scratch("fresh"), "home");
    const cwd = scratch.track(makeRepo({ files: { "envctl.yaml": SPEC } }));
    for (const args of [["list"], ["list", "--json"], ["validate"], ...HOST_READS]) {
      const r = await expectExit(args, 0, { home, cwd });
      assert.equal(tree(home), "absent", `envctl ${args.join(" ")} made the home\n${said(r)}`);
    }
    const hosts = await expectExit(["host", "list", "--json"], 0, { home, cwd });
    assert.deepEqual(
      (JSON.parse(hosts.stdout) as { hosts: { id: string }[] }).hosts.map((h) => h.id),
      ["localhost"],
      "localhost is listed before anything registered it",
    );
    for (const args of MISSING_ENV_VERBS) {
      const r = await expectExit(args, 2, { home, cwd });
      assert.match(r.stderr, /env no-such-env does not exist/, said(r));
      assert.equal(tree(home), "absent", `envctl ${args.join(" ")} made the home\n${said(r)}`);
    }
  });

  it("an empty home dir stays empty", async () => {
    const home = scratch("empty-home");
    const cwd = scratch("cwd");
    for (const args of [["list"], ["status", "x"], ["destroy", "x", "--yes"], ["outputs", "x"]]) {
      await envctl(args, { home, cwd });
      assert.deepEqual(fs.readdirSync(home), [], `envctl ${args.join(" ")}`);
    }
  });
});

describe("a home with one env", () => {
  const name = envName("ro");
  const sb = envSandbox(name, { "envctl.yaml": SPEC });
  const home = sb.home;
  const cwd = sb.repo;
  let log: string;

  before(async () => {
    await expectExit(["up", name, "--yes"], 0, { home, cwd });
    log = logFilePath(path.join(home, "envs", name), "sleeper");
    // Sparse, so it costs no disk (and ends in lines, for `logs`): a command that trims logs
    // would rewrite it.
    fs.truncateSync(log, BIG_LOG - 100);
    fs.appendFileSync(log, "a line\n".repeat(10).padStart(100, "\n"));
  });

  it("read commands write nothing, and neither do verbs on an env that does not exist", async () => {
    const reads = [
      ["list"],
      ["list", "--json"],
      ["status", name],
      ["status", name, "--json"],
      ["outputs", name],
      ["outputs", name, "--json"],
      ["logs", name, "-n", "5"],
      ["preview", name],
      ["validate"],
      ...HOST_READS,
    ];
    const start = tree(home);
    for (const args of reads) {
      await expectExit(args, 0, { home, cwd });
      assert.deepEqual(tree(home), start, `envctl ${args.join(" ")} wrote to the home`);
    }
    for (const args of MISSING_ENV_VERBS) {
      const r = await expectExit(args, 2, { home, cwd });
      assert.match(r.stderr, /env no-such-env does not exist/, said(r));
      assert.deepEqual(tree(home), start, `envctl ${args.join(" ")} wrote to the home`);
    }
    assert.equal(fs.statSync(log).size, BIG_LOG, "the log was not trimmed");
  });

  it("a cancelled up prompt writes nothing; the same up answered yes applies", async () => {
    const changed = path.join(cwd, "changed.yaml");
    fs.writeFileSync(changed, SPEC + "    env: { GREETING: hello }\n");
    const start = tree(home);
    const asked: string[] = [];
    const c = capture();
    const seam = { home: resolveHome({ ENVCTL_HOME: home }), cwd, ...c.seams };
    await assert.rejects(
      up({
        name,
        file: [changed],
        ...seam,
        confirm: (q) => (asked.push(q), Promise.resolve(false)),
      }),
      /cancelled; nothing changed/,
    );
    assert.deepEqual(asked, [`apply these changes to ${name}? [y/N] `]);
    assert.match(c.log.join("\n"), /sleeper: (replace|update)/, "the preview showed the change");
    assert.deepEqual(tree(home), start, "the cancelled up wrote to the home");

    // Pulumi by hand plans nothing: the rejected config is not in the stack's settings.
    const vars = JSON.parse(
      execFileSync(process.execPath, [path.join(ROOT, "bin", "envctl"), "env", "--json"], {
        env: childEnv(home),
        encoding: "utf8",
      }),
    ) as Record<string, string>;
    execFileSync(
      "pulumi",
      ["preview", "--stack", name, "--expect-no-changes", "--non-interactive"],
      {
        cwd: path.join(home, "project"),
        env: { ...childEnv(home), ...vars },
        stdio: "pipe",
      },
    );

    await up({ name, file: [changed], ...seam, confirm: () => Promise.resolve(true) });
    const catalog = Catalog.openReadOnly(path.join(home, "catalog.db"))!;
    try {
      const svc = catalog.getEnv(name)?.resolved?.services[0];
      assert.deepEqual(svc?.type === "process" && svc.env, { GREETING: "hello" });
    } finally {
      catalog.close();
    }
    assert.ok(fs.statSync(log).size < BIG_LOG, "up trims the env's logs");
  });
});

/**
 * What is left in a temp dir, but for the TypeScript compile cache the Pulumi program's runtime
 * keeps there (`ts-node-<hash>`, shared by every program run, whoever starts it).
 */
function leftIn(tmp: string): string[] {
  return fs.readdirSync(tmp).filter((f) => !f.startsWith("ts-node-"));
}

/** `envctl preview` in a child whose temp dir is `tmp`, so what it leaves there is seen. */
function previewChild(
  name: string,
  o: { home: string; cwd: string; tmp: string; env?: Record<string, string> },
): { done: Promise<Run>; interrupt(): void } {
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "envctl"), "preview", name], {
    cwd: o.cwd,
    env: childEnv(o.home, { TMPDIR: o.tmp, ...o.env }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { done, interrupt: () => child.kill("SIGINT") };
}

describe("preview of a new env", () => {
  const cwd = envSandbox(envName("ro-pv"), { "envctl.yaml": SPEC }).repo;
  // Throws in the Pulumi program (the language host runs it with --monitor), nowhere else.
  const failing = path.join(scratch("fail"), "fail-program.js");
  fs.writeFileSync(
    failing,
    'if (process.argv.includes("--monitor")) throw new Error("the program fails");\n',
  );

  for (const fresh of [true, false]) {
    const where = fresh ? "a fresh home" : "a home with a catalog";
    const homeFor = async (): Promise<string> => {
      const home = path.join(scratch("pv"), "home");
      if (!fresh) {
        await expectExit(["host", "check", "localhost"], 0, { home, cwd });
        assert.ok(fs.existsSync(path.join(home, "catalog.db")));
      }
      return home;
    };

    it(`in ${where} plans creates and leaves no stack, files or temp dirs`, async () => {
      const home = await homeFor();
      const start = tree(home);
      const tmp = scratch("tmp");
      const r = await previewChild(envName("new"), { home, cwd, tmp }).done;
      assert.equal(r.code, 0, said(r));
      assert.match(r.stdout, /\d+ to create/, said(r));
      assert.deepEqual(tree(home), start);
      assert.deepEqual(leftIn(tmp), [], "temp files left");
    });

    it(`in ${where} that fails in the engine leaves nothing`, async () => {
      const home = await homeFor();
      const start = tree(home);
      const tmp = scratch("tmp");
      const env = { NODE_OPTIONS: `--require ${failing}` };
      const r = await previewChild(envName("bad"), { home, cwd, tmp, env }).done;
      assert.equal(r.code, 1, said(r));
      assert.match(r.stderr, /preview of \S+ failed/, said(r));
      assertNoTrace(r);
      assert.deepEqual(tree(home), start);
      assert.deepEqual(leftIn(tmp), [], "temp files left");
    });
  }

  it("interrupted while the engine runs leaves nothing", async () => {
    const home = path.join(scratch("pv"), "home");
    const tmp = scratch("tmp");
    const run = previewChild(envName("int"), { home, cwd, tmp });
    // The proposed config is written just before the engine's preview starts.
    const deadline = Date.now() + 60_000;
    const configWritten = (): boolean =>
      fs
        .readdirSync(tmp)
        .filter((d) => /^envctl-preview-(?!stack-)/.test(d))
        .some((d) => fs.readdirSync(path.join(tmp, d)).length > 0);
    while (!configWritten()) {
      assert.ok(Date.now() < deadline, "the preview never reached the engine");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    run.interrupt();
    const r = await run.done;
    assert.equal(r.code, 130, said(r));
    assert.equal(tree(home), "absent");
    assert.deepEqual(leftIn(tmp), [], "temp files left");
  });
});
