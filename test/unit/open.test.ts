import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { open } from "../../cli/commands/open";
import { UserError } from "../../lib/core/errors";
import { resolveHome, type Home } from "../../lib/core/home";
import type { ResolvedService } from "../../lib/spec/model";
import { findOnPath } from "../../lib/core/toolchain";
import { kdlString, parseSessions, sessionName, zellijLayout } from "../../lib/kinds/devenv/zellij";
import { scratchDirs, seedEnv } from "../support/env";

const tmpDir = scratchDirs();

describe("zellij layout", () => {
  const layout = zellijLayout({
    name: "feat-x",
    worktree: "/home/u/.envctl/worktrees/feat-x",
    stateDir: "/home/u/.envctl/envs/feat-x",
    shell: "/usr/bin/zsh",
    services: [
      { name: "web", type: "process" },
      { name: "db", type: "container" },
    ],
  });

  it("has a focused shell tab that sources env.sh and execs the user's shell in the worktree", () => {
    assert.match(
      layout,
      /tab name="shell" focus=true \{\n\s+pane command="\/bin\/sh" cwd="\/home\/u\/\.envctl\/worktrees\/feat-x" \{/,
    );
    assert.ok(
      layout.includes(
        'args "-c" "if [ -f /home/u/.envctl/envs/feat-x/env.sh ]; then . /home/u/.envctl/envs/feat-x/env.sh; fi; export ENVCTL_ENV=feat-x; exec /usr/bin/zsh"',
      ),
      layout,
    );
  });

  it("has one tab per service in spec order following its log", () => {
    const tabs = [...layout.matchAll(/tab name="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(tabs, ["shell", "web", "db"]);
    assert.ok(
      layout.includes(
        'pane command="/bin/sh" cwd="/home/u/.envctl/worktrees/feat-x" {\n            args "-c" "tail -n 100 -F \'/home/u/.envctl/envs/feat-x/web.log\' | sed -u -E \'s/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z //\'"',
      ),
      layout,
    );
    assert.ok(layout.includes('args "logs" "-f" "--tail" "100" "envctl-feat-x-db"'), layout);
  });

  it("keeps the tab and status bars and balances its braces", () => {
    assert.ok(layout.includes('plugin location="zellij:tab-bar"'));
    assert.ok(layout.includes('plugin location="zellij:status-bar"'));
    const opens = [...layout].filter((c) => c === "{").length;
    assert.equal(opens, [...layout].filter((c) => c === "}").length);
    assert.ok(layout.startsWith("// ") && layout.includes("\nlayout {\n"));
  });

  it("quotes paths with spaces and quotes, for KDL and for the shell", () => {
    assert.equal(kdlString('a "b" \\ c\nd'), '"a \\"b\\" \\\\ c\\nd"');
    const odd = zellijLayout({
      name: "e",
      worktree: "/w t",
      stateDir: "/s's",
      shell: "/bin/bash",
      services: [],
    });
    assert.ok(odd.includes('cwd="/w t"'));
    assert.ok(odd.includes(`if [ -f '/s'\\\\''s/env.sh' ]`), odd);
  });

  it("parses list-sessions output: names, exited sessions, formatting and the none message", () => {
    const out = [
      "\x1b[32;1menvctl-a\x1b[m [Created \x1b[35;1m2h\x1b[m ago] (\x1b[31;1mcurrent\x1b[m)",
      "envctl-b [Created 1day ago] (EXITED - attach to resurrect)",
      "",
    ].join("\n");
    assert.deepEqual(parseSessions(out), [
      { name: "envctl-a", exited: false },
      { name: "envctl-b", exited: true },
    ]);
    assert.deepEqual(parseSessions("No active zellij sessions found.\n"), []);
    assert.equal(sessionName("a"), "envctl-a");
  });

  it("finds executables on PATH only", () => {
    const dir = tmpDir("path");
    fs.writeFileSync(path.join(dir, "tool"), "#!/bin/sh\n", { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "data"), "", { mode: 0o644 });
    assert.equal(findOnPath("tool", `/nonexistent${path.delimiter}${dir}`), path.join(dir, "tool"));
    assert.equal(findOnPath("data", dir), undefined);
    assert.equal(findOnPath("tool", ""), undefined);
  });
});

// ---- the command, against a temp ENVCTL_HOME ----------------------------------------------

interface Fixture {
  home: Home;
  name: string;
  worktree: string;
  stateDir: string;
}

function setupEnv(opts: { worktree?: boolean; services?: ResolvedService[] } = {}): Fixture {
  const home = resolveHome({ ENVCTL_HOME: tmpDir("home") });
  const env = seedEnv(home, "open-test", { state: "cold", services: opts.services ?? [] });
  if (opts.worktree !== false) fs.mkdirSync(env.worktreeDir, { recursive: true });
  fs.writeFileSync(
    path.join(env.stateDir, "env.sh"),
    "export PORT=10123\nexport API_URL=http://x\n",
  );
  return { home, name: env.name, worktree: env.worktreeDir, stateDir: env.stateDir };
}

describe("envctl open without zellij", () => {
  const saved = { HOME: process.env.HOME, PORT: process.env.PORT };
  beforeEach(() => {
    // A ~/.bashrc of our own: sourced first, so env.sh's PORT must win over it.
    const fakeHome = tmpDir("userhome");
    fs.writeFileSync(
      path.join(fakeHome, ".bashrc"),
      "export FROM_BASHRC=yes\nexport PORT=1\nPS1='$ '\n",
    );
    process.env.HOME = fakeHome;
    delete process.env.PORT;
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("runs bash in the worktree with ~/.bashrc then env.sh loaded, and returns its exit code", async () => {
    const { home, name, worktree } = setupEnv();
    const stdout: string[] = [];
    const stderr: string[] = [];
    const log: string[] = [];
    const code = await open({
      name,
      home,
      zellij: null,
      log: (l) => log.push(l),
      stdio: {
        input: 'echo "PORT=$PORT"; echo "ENV=$ENVCTL_ENV"; echo "RC=$FROM_BASHRC"; pwd; exit 3\n',
        stdout: (c) => stdout.push(c),
        stderr: (c) => stderr.push(c),
      },
    });
    assert.equal(code, 3);
    const lines = stdout.join("").split("\n");
    assert.ok(lines.includes("PORT=10123"), stdout.join(""));
    assert.ok(lines.includes(`ENV=${name}`));
    assert.ok(lines.includes("RC=yes"));
    assert.ok(lines.includes(worktree), `pwd is the worktree: ${stdout.join("")}`);
    assert.deepEqual(log, [
      `opening a shell in ${worktree} with env.sh loaded (zellij not installed)`,
    ]);
    assert.match(stderr.join(""), /\(envctl:open-test\) \$ /, "the prompt names the env");
  });

  it("exits 2 when the worktree is gone or the env does not exist", async () => {
    const { home, name } = setupEnv({ worktree: false });
    const noShell = { input: "exit 0\n", stdout: () => undefined };
    for (const [n, msg] of [
      [name, /worktree of env open-test does not exist/],
      ["ghost", /env ghost does not exist/],
    ] as const) {
      await assert.rejects(
        open({ name: n, home, zellij: null, stdio: noShell, log: () => undefined }),
        (err: unknown) => err instanceof UserError && err.exitCode === 2 && msg.test(err.message),
      );
    }
  });
});

describe("envctl open with zellij (a stand-in on disk)", () => {
  let savedZellij: string | undefined;
  beforeEach(() => {
    savedZellij = process.env.ZELLIJ;
    delete process.env.ZELLIJ; // as if run from a plain terminal
  });
  afterEach(() => {
    if (savedZellij === undefined) delete process.env.ZELLIJ;
    else process.env.ZELLIJ = savedZellij;
  });

  /** A fake `zellij` that records its calls and lists the sessions written to `sessions`. */
  function fakeZellij(sessions?: string): { bin: string; calls: () => string[] } {
    const dir = tmpDir("zellij");
    const callsFile = path.join(dir, "calls");
    if (sessions !== undefined) fs.writeFileSync(path.join(dir, "sessions"), sessions);
    const bin = path.join(dir, "zellij");
    fs.writeFileSync(
      bin,
      [
        "#!/bin/sh",
        `echo "$* | cwd=$(pwd) | env=$ENVCTL_ENV" >> '${callsFile}'`,
        'if [ "$1" = list-sessions ]; then',
        `  if [ -f '${dir}/sessions' ]; then cat '${dir}/sessions'; exit 0; fi`,
        "  echo 'No active zellij sessions found.'; exit 1",
        "fi",
        "exit 0",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    return {
      bin,
      calls: () =>
        fs.existsSync(callsFile) ? fs.readFileSync(callsFile, "utf8").trim().split("\n") : [],
    };
  }

  const services: ResolvedService[] = [
    {
      name: "web",
      type: "process",
      cmd: "true",
      dir: ".",
      env: {},
      ports: [],
      dependsOn: [],
      cold: false,
    },
  ];
  const piped = { input: "", stdout: () => undefined };

  it("creates the session from a layout in the state dir when there is none", async () => {
    const { home, name, worktree, stateDir } = setupEnv({ services });
    const z = fakeZellij();
    const log: string[] = [];
    const code = await open({ name, home, zellij: z.bin, stdio: piped, log: (l) => log.push(l) });
    assert.equal(code, 0);
    const layoutFile = path.join(stateDir, "zellij.kdl");
    assert.deepEqual(z.calls(), [
      `list-sessions --no-formatting | cwd=${process.cwd()} | env=`,
      `--session envctl-${name} --layout ${layoutFile} | cwd=${worktree} | env=${name}`,
    ]);
    const layout = fs.readFileSync(layoutFile, "utf8");
    assert.ok(layout.includes('tab name="web"'));
    assert.ok(layout.includes(path.join(stateDir, "web.log")));
    assert.deepEqual(log, [`starting zellij session envctl-${name} (layout ${layoutFile})`]);
  });

  it("attaches a running session, and replaces an exited one", async () => {
    const { home, name } = setupEnv({ services });
    const running = fakeZellij(`other [Created 1h ago]\nenvctl-${name} [Created 2h ago]\n`);
    await open({ name, home, zellij: running.bin, stdio: piped, log: () => undefined });
    assert.match(running.calls()[1] ?? "", new RegExp(`^attach envctl-${name} \\|`));

    const exited = fakeZellij(`envctl-${name} [Created 2h ago] (EXITED - attach to resurrect)\n`);
    await open({ name, home, zellij: exited.bin, stdio: piped, log: () => undefined });
    const calls = exited.calls().map((c) => c.split(" | ")[0]);
    assert.equal(calls[1], `delete-session envctl-${name}`);
    assert.match(calls[2] ?? "", new RegExp(`^--session envctl-${name} --layout `));
  });

  it("refuses to nest inside a zellij session", async () => {
    const { home, name } = setupEnv({ services });
    process.env.ZELLIJ = "0";
    const z = fakeZellij();
    await assert.rejects(
      open({ name, home, zellij: z.bin, stdio: piped, log: () => undefined }),
      (err: unknown) => err instanceof UserError && /inside a zellij session/.test(err.message),
    );
    assert.deepEqual(z.calls(), []);
  });
});
