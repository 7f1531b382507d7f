/**
 * `envctl validate`: program lookup on PATH and in the repo at the base,
 * directory checks, port-block choice against leases and real busy ports, the read-only catalog
 * read, and the command itself through its seams (temp homes and real temp git repos).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { validate } from "../../cli/commands/validate";
import { Catalog } from "../../lib/catalog/catalog";
import { resolveHome } from "../../lib/core/home";
import { parseSpecText } from "../../lib/spec/load";
import { busyPorts } from "../../lib/runtime/probes";
import { blockBase, MAX_BLOCK } from "../../lib/spec/ports";
import type { ContainerService, SpecIssue } from "../../lib/spec/model";
import { heldBlocks } from "../../lib/catalog/leases";
import { chooseBlock } from "../../lib/spec/ports";
import { commandIssues, type CommandContext, type RepoTree } from "../../lib/spec/commands";
import { blockFindings, gitTree, validateSpec } from "../../lib/spec/validate";
import { findOnPath } from "../../lib/core/toolchain";
import { capture, git, makeRepo, scratchDirs } from "../support/env";

const temp = scratchDirs();

/** A dir holding executables `names` (shell scripts), usable as a PATH entry. */
function binDir(...names: string[]): string {
  const dir = temp("bin");
  for (const n of names)
    fs.writeFileSync(path.join(dir, n), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  return dir;
}

/** A committed repo; `exec` files get the execute bit before the commit. */
function repo(files: Record<string, string>, exec: string[] = []): string {
  const dir = makeRepo({ files });
  temp.track(dir);
  for (const f of exec) fs.chmodSync(path.join(dir, f), 0o755);
  if (exec.length > 0) {
    git(dir, "add", "-A");
    git(dir, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "chmod");
  }
  return dir;
}

function treeOf(dir: string, ref = "HEAD"): RepoTree {
  const t = gitTree(dir, ref);
  assert.ok("entry" in t, `not a tree: ${JSON.stringify(t)}`);
  return t;
}

const fmt = (issues: SpecIssue[]): string[] => issues.map((i) => `${i.path}: ${i.message}`);

describe("findOnPath", () => {
  it("finds executables only, in PATH order", () => {
    const a = temp("path-a");
    const b = binDir("tool");
    fs.writeFileSync(path.join(a, "tool"), "not executable", { mode: 0o644 });
    fs.mkdirSync(path.join(a, "dirtool"));
    assert.equal(findOnPath("tool", `${a}:${b}`), path.join(b, "tool"));
    assert.equal(findOnPath("dirtool", `${a}:${b}`), undefined);
    assert.equal(findOnPath("tool", ""), undefined);
  });
});

describe("gitTree", () => {
  it("reports a missing repo, a non-repo and an unknown base", () => {
    assert.deepEqual(gitTree("/nonexistent/envctl-repo", "HEAD"), {
      path: "repo",
      message: "/nonexistent/envctl-repo does not exist",
    });
    const plain = temp("plain");
    assert.deepEqual(gitTree(plain, "HEAD"), {
      path: "repo",
      message: `${plain} is not a git repository`,
    });
    const r = repo({ "a.txt": "a" });
    assert.deepEqual(gitTree(r, "nope"), {
      path: "base",
      message: `"nope" is not a branch or commit in ${r}`,
    });
  });

  it("sees the tree of the base commit, not the working copy", () => {
    const r = repo({ "sub/run.sh": "#!/bin/sh\n", "sub/data.txt": "x" }, ["sub/run.sh"]);
    fs.writeFileSync(path.join(r, "later.sh"), "#!/bin/sh\n", { mode: 0o755 });
    const t = treeOf(r);
    assert.equal(t.entry("."), "dir");
    assert.equal(t.entry("sub"), "dir");
    assert.equal(t.entry("sub/"), "dir");
    assert.equal(t.entry("sub/run.sh"), "executable");
    assert.equal(t.entry("sub/data.txt"), "file");
    assert.equal(t.entry("later.sh"), undefined, "uncommitted files are not in the worktree");
    assert.equal(t.entry("../outside"), undefined);
  });
});

describe("commandIssues", () => {
  const r = repo(
    {
      "front/run.sh": "#!/bin/sh\n",
      "front/plain.sh": "echo\n",
      "core/Cargo.toml": "[package]\n",
      "README.md": "x",
    },
    ["front/run.sh"],
  );
  fs.writeFileSync(path.join(r, "front/new.sh"), "#!/bin/sh\n", { mode: 0o755 });
  const tree = treeOf(r);
  const bins = binDir("present-tool", "npx", "cargo");
  const ctx = (over: Partial<CommandContext> = {}): CommandContext => ({
    pathVar: bins,
    tree,
    dir: ".",
    homeDir: temp("userhome"),
    ...over,
  });
  const check = (cmd: string, over: Partial<CommandContext> = {}) =>
    commandIssues("services.x.cmd", cmd, ctx(over));

  it("a program on PATH passes; a missing one is an error naming it", () => {
    assert.deepEqual(check("present-tool --serve"), { errors: [], warnings: [] });
    assert.deepEqual(fmt(check("envctl-nope --serve").errors), [
      'services.x.cmd: "envctl-nope" is not installed (not found on PATH)',
    ]);
  });

  it("shell builtins such as exit, return and kill are not programs to look up", () => {
    for (const cmd of ["echo compiler exploded; exit 7", "present-tool || return 1", "kill -0 1"]) {
      assert.deepEqual(check(cmd), { errors: [], warnings: [] }, cmd);
    }
  });

  it("skips leading assignments, builtins, wrappers and keywords to find the program", () => {
    assert.deepEqual(fmt(check("FOO=1 BAR='a b' envctl-nope").errors), [
      'services.x.cmd: "envctl-nope" is not installed (not found on PATH)',
    ]);
    assert.deepEqual(
      fmt(check("export A=1; mkdir -p logs && exec env -i X=2 envctl-nope").errors),
      ['services.x.cmd: "envctl-nope" is not installed (not found on PATH)'],
    );
    assert.deepEqual(fmt(check("if [ -f x ]; then envctl-nope; fi").errors), [
      'services.x.cmd: "envctl-nope" is not installed (not found on PATH)',
    ]);
    assert.deepEqual(check("FOO=1 present-tool && envctl-other"), { errors: [], warnings: [] });
    assert.deepEqual(check("command -v bun || present-tool"), { errors: [], warnings: [] });
    assert.deepEqual(check("$TOOL run"), { errors: [], warnings: [] }, "decided at run time");
  });

  it("follows cd, and checks ./scripts in the repo at the base", () => {
    assert.deepEqual(check("cd front && ./run.sh --x"), { errors: [], warnings: [] });
    assert.deepEqual(check("./run.sh", { dir: "front" }), { errors: [], warnings: [] });
    assert.deepEqual(fmt(check("cd front && ./plain.sh").errors), [
      'services.x.cmd: "./plain.sh" is not executable in the repo at HEAD: chmod +x front/plain.sh and commit it',
    ]);
    assert.deepEqual(fmt(check("./missing.sh", { dir: "front" }).errors), [
      'services.x.cmd: "./missing.sh" does not exist in the repo at HEAD (front/missing.sh)',
    ]);
    assert.deepEqual(fmt(check("cd front && ./new.sh").errors), [
      `services.x.cmd: "./new.sh" does not exist in the repo at HEAD (front/new.sh) (it exists in ${r} but is not committed)`,
    ]);
    assert.deepEqual(fmt(check("cd back && present-tool").errors), [
      'services.x.cmd: cd back: no directory "back" in the repo at HEAD',
    ]);
    assert.deepEqual(fmt(check("cd README.md && present-tool").errors), [
      'services.x.cmd: cd README.md: "README.md" is a file, not a directory, in the repo at HEAD',
    ]);
    assert.deepEqual(check("cd ~/elsewhere && ./whatever.sh"), { errors: [], warnings: [] });
  });

  it("after source, an unknown name may be a shell function: a warning, and the next command counts", () => {
    const f = check("source ~/.nvm/nvm.sh && nvm use && present-tool");
    assert.deepEqual(fmt(f.warnings), [
      'services.x.cmd: "nvm" is not on PATH; fine if it is a shell function from ~/.nvm/nvm.sh',
    ]);
    assert.deepEqual(f.errors, []);
    assert.deepEqual(fmt(check(". ./env.sh && nvm use && ./missing.sh").errors), [
      'services.x.cmd: "./missing.sh" does not exist in the repo at HEAD (missing.sh)',
    ]);
    assert.deepEqual(fmt(check("nvm use && present-tool").errors), [
      'services.x.cmd: "nvm" is not installed (not found on PATH)',
    ]);
  });

  it("npx: the tool must be in node_modules/.bin (or on PATH), else npx downloads it", () => {
    assert.deepEqual(fmt(check("npx tsx src/start.ts", { dir: "front" }).warnings), [
      'services.x.cmd: npx tsx: "tsx" is not in node_modules/.bin or on PATH, so npx will try to download it (run npm install first)',
    ]);
    fs.mkdirSync(path.join(r, "node_modules", ".bin"), { recursive: true });
    fs.writeFileSync(path.join(r, "node_modules", ".bin", "tsx"), "#!/bin/sh\n", { mode: 0o755 });
    assert.deepEqual(check("npx tsx src/start.ts", { dir: "front" }), { errors: [], warnings: [] });
    assert.deepEqual(fmt(check("npx --yes envctl-x", { pathVar: "" }).errors), [
      'services.x.cmd: "npx" is not installed (not found on PATH)',
    ]);
  });

  it("cargo: missing binary hints at ~/.cargo/bin; cargo run needs a Cargo.toml", () => {
    const home = temp("userhome");
    fs.mkdirSync(path.join(home, ".cargo", "bin"), { recursive: true });
    fs.writeFileSync(path.join(home, ".cargo", "bin", "cargo"), "#!/bin/sh\n", { mode: 0o755 });
    assert.deepEqual(fmt(check("cargo run", { pathVar: "", homeDir: home }).errors), [
      'services.x.cmd: "cargo" is not installed (not found on PATH); it is in ~/.cargo/bin: add that to PATH',
    ]);
    assert.deepEqual(check("cd core && cargo run --bin init_db"), { errors: [], warnings: [] });
    assert.deepEqual(fmt(check("cargo run --bin x", { dir: "front" }).warnings), [
      'services.x.cmd: cargo run: no Cargo.toml in "front" or above in the repo at HEAD',
    ]);
  });

  it("a spec that changes PATH turns a missing program into a warning", () => {
    const f = check("envctl-nope", { pathChanged: true });
    assert.deepEqual(f.errors, []);
    assert.match(
      fmt(f.warnings)[0]!,
      /"envctl-nope" is not on envctl's PATH; the spec changes PATH/,
    );
  });
});

const svc = (name: string, containers: number[]): ContainerService => ({
  name,
  type: "container",
  image: "x",
  env: {},
  ports: containers.map((c) => ({ container: c, offset: c % 1000, protocol: "tcp" })),
  volumes: [],
  dependsOn: [],
  cold: false,
});

describe("port block choice", () => {
  it("skips leased blocks and blocks with busy ports, naming the services on them", async () => {
    const services = [svc("db", [5432]), svc("cache", [6379]), svc("alt", [7432])];
    const busyAt = new Set([10432, 12379]);
    const asked: number[][] = [];
    const busy = async (ports: number[]) => (asked.push(ports), ports.filter((p) => busyAt.has(p)));
    const choice = await chooseBlock(services, new Set([1]), busy);
    assert.equal(choice.block, 3);
    assert.deepEqual(
      asked.map((ports) => ports[0]),
      [10432, 12432, 13432],
      "block 1 is leased: never probed",
    );
    assert.deepEqual(choice.busy, [
      { block: 0, port: 10432, paths: ["services.db.ports[0]", "services.alt.ports[0]"] },
      { block: 2, port: 12379, paths: ["services.cache.ports[0]"] },
    ]);
    assert.deepEqual(fmt(blockFindings(choice).warnings), [
      "services.db.ports[0]: host port 10432 is in use (block 0); the env would get block 3",
      "services.alt.ports[0]: host port 10432 is in use (block 0); the env would get block 3",
      "services.cache.ports[0]: host port 12379 is in use (block 2); the env would get block 3",
    ]);
  });

  it("no free block is an error", async () => {
    const choice = await chooseBlock([svc("db", [5432])], new Set(), async (p) => p);
    assert.equal(choice.block, undefined);
    assert.equal(choice.busy.length, MAX_BLOCK + 1);
    assert.match(fmt(blockFindings(choice).errors)[0]!, /^services: no free port block/);
  });

  it("a real listener on the block's port moves the env to the next block", async () => {
    const services = [svc("db", [9917])];
    let n = 0;
    while ((await busyPorts([blockBase(n) + 917, blockBase(n + 1) + 917])).length > 0) n++;
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(blockBase(n) + 917, "0.0.0.0", resolve));
    try {
      const choice = await chooseBlock(services, new Set(), busyPorts);
      assert.equal(choice.block, n + 1);
      assert.deepEqual(choice.busy.at(-1), {
        block: n,
        port: blockBase(n) + 917,
        paths: ["services.db.ports[0]"],
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("heldBlocks", () => {
  it("reads leases and env blocks without creating a catalog", () => {
    const home = temp("home");
    const file = path.join(home, "catalog.db");
    assert.deepEqual(heldBlocks(file), []);
    assert.deepEqual(fs.readdirSync(home), [], "no catalog file made");
    const c = Catalog.open(file);
    c.leaseBlock("alpha", MAX_BLOCK);
    c.leaseBlock("beta", MAX_BLOCK);
    c.releaseLease("alpha");
    c.close();
    assert.deepEqual(heldBlocks(file), [{ block: 1, env: "beta" }]);
  });
});

describe("validateSpec", () => {
  const load = (dir: string, text: string) => {
    const r = parseSpecText(text, { file: path.join(dir, "envctl.yaml") });
    assert.ok(r.spec, JSON.stringify(r.errors));
    return r.spec;
  };
  const free = async () => [];

  it("uses the PATH it is given, warns about temporal, and reports the block", async () => {
    const dir = repo({ "README.md": "x" });
    const spec = load(
      dir,
      "services:\n  w: { cmd: present-tool }\ntemporal:\n  namespaces: ['app-{{name}}']\n",
    );
    const withTool = await validateSpec(spec, { pathVar: binDir("present-tool"), busy: free });
    assert.deepEqual(withTool.errors, []);
    assert.deepEqual(fmt(withTool.warnings), [
      'temporal.namespaces: "temporal" is not installed (not found on PATH); the first warm creates the namespaces with it (see envctl doctor)',
    ]);
    assert.equal(withTool.ok, true);
    assert.equal(withTool.block, 0);
    const held = await validateSpec(spec, {
      pathVar: binDir("present-tool", "temporal"),
      busy: free,
      held: [{ block: 0, env: "x" }],
    });
    assert.deepEqual(held.warnings, []);
    assert.equal(held.block, 1);
    const without = await validateSpec(spec, { pathVar: "", busy: free });
    assert.equal(without.ok, false);
    assert.deepEqual(fmt(without.errors), [
      'services.w.cmd: "present-tool" is not installed (not found on PATH)',
    ]);
  });

  it("a host port browsers refuse in the block the env would get is a warning", async () => {
    const dir = repo({ "README.md": "x" });
    const spec = load(dir, "services:\n  web: { image: x, ports: [8080] }\n");
    const first = await validateSpec(spec, { busy: free });
    assert.equal(first.ok, true);
    assert.equal(first.block, 0);
    assert.deepEqual(fmt(first.warnings), [
      "services.web.ports[0]: host port 10080 (block 0 + 80) is refused by browsers (ERR_UNSAFE_PORT); set an offset",
    ]);
    const next = await validateSpec(spec, { busy: free, held: [{ block: 0, env: "x" }] });
    assert.equal(next.block, 1);
    assert.deepEqual(next.warnings, []);
  });

  it("a repo that is not git, or a base that does not exist, is an error like up's", async () => {
    const plain = temp("plain");
    const spec = load(plain, "services:\n  web: { image: x }\n");
    assert.deepEqual(fmt((await validateSpec(spec, { busy: free })).errors), [
      `repo: ${plain} is not a git repository`,
    ]);
    const dir = repo({ "README.md": "x" });
    const onBranch = load(dir, "base: feature\nservices:\n  web: { image: x }\n");
    assert.deepEqual(fmt((await validateSpec(onBranch, { busy: free })).errors), [
      `base: "feature" is not a branch or commit in ${dir}`,
    ]);
  });

  it("a spec in a subdirectory: programs, dirs and build contexts as the worktree has them", async () => {
    const dir = repo(
      {
        "deploy/envctl.yaml": "",
        "deploy/serve.sh": "#!/bin/sh\n",
        "deploy/db/Dockerfile": "FROM scratch\n",
        "deploy/conf/app.conf": "x\n",
      },
      ["deploy/serve.sh"],
    );
    fs.mkdirSync(path.join(dir, "deploy/img"));
    fs.writeFileSync(path.join(dir, "deploy/img/Dockerfile"), "FROM scratch\n"); // not committed
    const text = [
      "repo: ..",
      "services:",
      "  api: { cmd: ./serve.sh }",
      "  db: { build: ./db, volumes: ['./conf:/conf', './data:/data', '/etc/hosts:/h'] }",
      "  img: { build: ./img }",
    ].join("\n");
    const r = parseSpecText(text, { file: path.join(dir, "deploy", "envctl.yaml") });
    assert.ok(r.spec, JSON.stringify(r.errors));
    const report = await validateSpec(r.spec, { busy: free });
    assert.deepEqual(fmt(report.errors), [
      `services.img.build: no directory "deploy/img" in the repo at HEAD (it exists in ${dir} but is not committed)`,
    ]);
    // Docker mounts an empty directory for a missing bind source: worth a warning, not a refusal.
    assert.deepEqual(fmt(report.warnings), [
      `services.db.volumes[1]: bind source "deploy/data" is not in the repo at HEAD, so the env's worktree will not have it (Docker mounts an empty directory)`,
    ]);
  });

  it("a build context without its Dockerfile is an error", async () => {
    const dir = repo({ "img/README": "x" });
    const spec = load(dir, "services:\n  web: { build: ./img }\n  api: { build: ./none }\n");
    assert.deepEqual(fmt((await validateSpec(spec, { busy: free })).errors), [
      `services.web.build: no Dockerfile in the build context ${path.join(dir, "img")}`,
      `services.api.build: build context ${path.join(dir, "none")} is not a directory`,
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// the command, through its seams

interface JsonReport {
  ok: boolean;
  errors: SpecIssue[];
  warnings: SpecIssue[];
  services: { name: string; type: string; ports: { host: number | null }[] }[];
  order: string[];
  block: number | null;
}

async function run(
  spec: string,
  o: {
    json?: boolean;
    files?: Record<string, string>;
    exec?: string[];
    home?: string;
    /** Where the spec is written, passed as `-f` (default: ./envctl.yaml, no -f). */
    file?: string;
  } = {},
): Promise<{ code: number; out: string; json?: JsonReport; home: string; repo: string }> {
  const dir = repo({ [o.file ?? "envctl.yaml"]: spec, ...o.files }, o.exec);
  const home = o.home ?? temp("home");
  const c = capture();
  const code = await validate({
    json: o.json,
    ...(o.file !== undefined ? { file: o.file } : {}),
    cwd: dir,
    home: resolveHome({ ENVCTL_HOME: home }),
    ...c.seams,
  });
  const out = c.out.join("\n");
  return {
    code,
    out,
    home,
    repo: dir,
    ...(o.json ? { json: JSON.parse(out) as JsonReport } : {}),
  };
}

/** The lowest block (with no catalog) where all of `ports` (offsets) are free right now. */
async function firstFreeBlock(offsets: number[]): Promise<number> {
  let n = 0;
  while ((await busyPorts(offsets.map((o) => blockBase(n) + o))).length > 0) n++;
  return n;
}

describe("envctl validate", () => {
  it("an OK spec: summary with counts, start order and block; exit 0; nothing created", async () => {
    const spec = [
      "services:",
      "  db: { image: debian:bookworm, ports: [{ container: 5432, offset: 913 }], health: { tcp: 5432 } }",
      "  api: { cmd: ./serve.sh --port $PORT, dir: api, ports: [{ port: 3000, offset: 914 }], depends_on: [db] }",
    ].join("\n");
    const block = await firstFreeBlock([913, 914]);
    const r = await run(spec, { files: { "api/serve.sh": "#!/bin/sh\n" }, exec: ["api/serve.sh"] });
    assert.equal(r.code, 0, r.out);
    assert.equal(
      r.out,
      `✓ spec OK: 2 services (1 container, 1 process), start order db -> api, block ${block} (ports ${blockBase(block)}-${blockBase(block) + 999})`,
    );
    assert.deepEqual(fs.readdirSync(r.home), [], "ENVCTL_HOME stays empty");
  });

  it("a home that does not exist is not created", async () => {
    const home = path.join(temp("parent"), "envctl-home");
    const r = await run("services:\n  web: { image: x }\n", { home, json: true });
    assert.equal(r.code, 0, r.out);
    assert.equal(fs.existsSync(home), false);
    assert.equal(r.json!.block, 0, "a spec without ports gets the lowest block");
  });

  it("unknown dependency: exit 2 with the dot-path", async () => {
    const r = await run("services:\n  web: { image: x, depends_on: [dbx] }\n", { json: true });
    assert.equal(r.code, 2);
    assert.equal(r.json!.ok, false);
    assert.deepEqual(r.json!.errors, [
      { path: "services.web.depends_on[0]", message: 'unknown service "dbx"' },
    ]);
  });

  it("a dependency cycle names its members", async () => {
    const spec = [
      "services:",
      "  a: { image: x, depends_on: [b], health: { command: 'true' } }",
      "  b: { image: x, depends_on: [c], health: { command: 'true' } }",
      "  c: { image: x, depends_on: [a], health: { command: 'true' } }",
    ].join("\n");
    const human = await run(spec);
    assert.equal(human.code, 2);
    assert.match(human.out, /^✗ invalid spec .*envctl\.yaml$/m);
    assert.match(human.out, /^ {2}services: dependency cycle: a -> b -> c -> a$/m);
    const r = await run(spec, { json: true });
    assert.deepEqual(r.json!.errors, [
      { path: "services", message: "dependency cycle: a -> b -> c -> a" },
    ]);
  });

  it("two ports on the same offset are an error naming both", async () => {
    const r = await run(
      "services:\n  a: { image: x, ports: [7233] }\n  b: { image: x, ports: [8233] }\n",
      {
        json: true,
      },
    );
    assert.equal(r.code, 2);
    assert.deepEqual(
      r.json!.errors.map((e) => e.path),
      ["services.b.ports[0]"],
    );
    assert.match(r.json!.errors[0]!.message, /offset 233 .*collides with services\.a port 7233/);
  });

  it("--json: a compose file's issues carry their dot-path, the file apart", async () => {
    const bad = "services:\n  db: { image: x, ports: ['70000:5432'] }\n";
    const r = await run(bad, { json: true, file: "docker-compose.yml" });
    assert.equal(r.code, 2);
    assert.deepEqual(r.json!.errors, [
      {
        path: "services.db.ports[0]",
        file: "docker-compose.yml",
        message: "invalid hostPort: 70000",
      },
    ]);
    const human = await run(bad, { file: "docker-compose.yml" });
    assert.match(
      human.out,
      /^ {2}docker-compose\.yml: services\.db\.ports\[0\]: invalid hostPort: 70000/m,
    );
    const ok = await run("services:\n  db: { image: x, container_name: shop-db }\n", {
      json: true,
      file: "docker-compose.yml",
    });
    assert.equal(ok.code, 0);
    assert.deepEqual(ok.json!.warnings, [
      {
        path: "services.db.container_name",
        file: "docker-compose.yml",
        message:
          '"container_name" is ignored: envctl names containers per env (envctl-ENV-SERVICE)',
      },
    ]);
  });

  it("a process whose program is missing, and one whose script is not executable", async () => {
    const spec = [
      "services:",
      "  front: { cmd: FORCE_COLOR=1 envctl-no-such-tool --dev }",
      "  worker: { cmd: ./work.sh, dir: worker }",
      "  gone: { cmd: 'true', dir: nowhere }",
    ].join("\n");
    const r = await run(spec, { json: true, files: { "worker/work.sh": "#!/bin/sh\n" } });
    assert.equal(r.code, 2);
    assert.deepEqual(fmt(r.json!.errors), [
      'services.front.cmd: "envctl-no-such-tool" is not installed (not found on PATH)',
      'services.worker.cmd: "./work.sh" is not executable in the repo at HEAD: chmod +x worker/work.sh and commit it',
      'services.gone.dir: no directory "nowhere" in the repo at HEAD',
    ]);
    const human = await run(spec, { files: { "worker/work.sh": "#!/bin/sh\n" } });
    assert.match(human.out, /^✗ .*envctl\.yaml: 3 problems$/m);
    assert.match(
      human.out,
      /^ {2}services\.front\.cmd: "envctl-no-such-tool" is not installed \(not found on PATH\)$/m,
    );
  });

  it("init steps: a missing dir and a missing program", async () => {
    const spec = [
      "services:",
      "  db: { image: x }",
      "init:",
      "  - { name: migrate, run: envctl-no-migrator up, dir: core }",
      "  - { name: seed, run: ./seed.sh, dir: tools }",
    ].join("\n");
    const r = await run(spec, {
      json: true,
      files: { "tools/seed.sh": "" },
      exec: ["tools/seed.sh"],
    });
    assert.deepEqual(fmt(r.json!.errors), [
      'init.steps[0].dir: no directory "core" in the repo at HEAD',
      'init.steps[0].run: "envctl-no-migrator" is not installed (not found on PATH)',
    ]);
  });

  it("a busy host port is a warning naming service and port; the env gets the next block", async () => {
    const n = await firstFreeBlock([921]);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(blockBase(n) + 921, "0.0.0.0", resolve));
    try {
      const r = await run(
        "services:\n  db: { image: x, ports: [{ container: 5432, offset: 921 }] }\n",
        {
          json: true,
        },
      );
      assert.equal(r.code, 0, "a busy port is not an error");
      assert.ok(r.json!.block! > n);
      assert.ok(
        r.json!.warnings.some(
          (w) =>
            w.path === "services.db.ports[0]" &&
            w.message ===
              `host port ${blockBase(n) + 921} is in use (block ${n}); the env would get block ${r.json!.block}`,
        ),
        JSON.stringify(r.json!.warnings),
      );
      assert.equal(r.json!.services[0]!.ports[0]!.host, blockBase(r.json!.block!) + 921);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("blocks leased in an existing catalog are skipped, and the catalog is left as it was", async () => {
    const home = temp("home");
    const catalog = Catalog.open(path.join(home, "catalog.db"));
    catalog.leaseBlock("other", MAX_BLOCK);
    catalog.close();
    const r = await run("services:\n  web: { image: x }\n", { json: true, home });
    assert.equal(r.json!.block, 1);
    const after = Catalog.open(path.join(home, "catalog.db"));
    try {
      assert.deepEqual(
        after.leases().map((l) => [l.block, l.env]),
        [[0, "other"]],
      );
      assert.deepEqual(after.listEnvs(), []);
    } finally {
      after.close();
    }
  });

  it("no envctl.yaml: one problem, exit 2, nothing created", async () => {
    const dir = repo({ "README.md": "x" });
    const home = temp("home");
    const c = capture();
    const code = await validate({
      json: true,
      cwd: dir,
      home: resolveHome({ ENVCTL_HOME: home }),
      ...c.seams,
    });
    assert.equal(code, 2);
    const doc = JSON.parse(c.out.join("\n")) as JsonReport;
    assert.equal(doc.errors.length, 1);
    assert.match(doc.errors[0]!.message, /^no envctl\.yaml \(or A3sfile\.hcl\) in /);
    assert.deepEqual(fs.readdirSync(home), []);
  });
});
