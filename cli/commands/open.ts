import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { badInput, UserError } from "../../lib/core/errors";
import { envDir, type Home } from "../../lib/core/home";
import { shellQuote } from "../../lib/core/shell";
import { findOnPath } from "../../lib/core/toolchain";
import { parseSessions, sessionName, zellijLayout } from "../../lib/kinds/devenv/zellij";
import { checkName, envRecord, seams, type CommandSeams } from "../context";

export interface OpenOptions extends CommandSeams {
  name: string;
  /** The zellij binary; `null` opens the plain shell. @default `zellij` found on PATH */
  zellij?: string | null;
  /** Pipes the child's stdio instead of handing it the terminal (tests). */
  stdio?: { input: string; stdout: (chunk: string) => void; stderr?: (chunk: string) => void };
}

/** What `open` needs to know about an env. */
interface Target {
  name: string;
  worktree: string;
  stateDir: string;
  envSh: string;
  services: { name: string; type: "container" | "process" }[];
}

/**
 * Opens the env for a human: its zellij session (attached if it runs, created from a fresh
 * layout otherwise) or, without zellij, an interactive bash in the worktree with env.sh loaded.
 * Returns the exit code of what it ran. Closing either stops no service: they are daemons.
 */
export async function open(opts: OpenOptions): Promise<number> {
  const s = seams(opts);
  checkName(opts.name);
  const target = findTarget(s.home, opts.name);
  if (!fs.existsSync(target.envSh)) {
    s.log(`warning: ${target.envSh} does not exist: the shell gets none of the env's exports`);
  }
  const zellij = opts.zellij === undefined ? findOnPath("zellij") : (opts.zellij ?? undefined);
  if (zellij) return openZellij(zellij, target, s.log, opts.stdio);
  return openShell(target, s.log, opts.stdio);
}

function findTarget(home: Home, name: string): Target {
  const rec = envRecord(home, name, "open");
  const worktree = rec.worktreePath ?? rec.resolved?.worktreeDir;
  if (!worktree || !fs.existsSync(worktree)) {
    throw badInput(
      worktree
        ? `the worktree of env ${name} does not exist: ${worktree}`
        : `env ${name} has no worktree yet`,
      [`the env is ${rec.state}; \`envctl up ${name}\` creates its worktree`],
    );
  }
  const stateDir = rec.resolved?.stateDir ?? envDir(home, name);
  return {
    name,
    worktree,
    stateDir,
    envSh: path.join(stateDir, "env.sh"),
    services: (rec.resolved?.services ?? []).map((svc) => ({ name: svc.name, type: svc.type })),
  };
}

async function openZellij(
  zellij: string,
  t: Target,
  log: (line: string) => void,
  stdio: OpenOptions["stdio"],
): Promise<number> {
  const session = sessionName(t.name);
  if (process.env.ZELLIJ !== undefined) {
    throw badInput(`already inside a zellij session: detach (Ctrl-o d), then run envctl open`, [
      `or attach from here with \`zellij attach ${session}\` once you are out`,
    ]);
  }
  const layout = path.join(t.stateDir, "zellij.kdl");
  fs.mkdirSync(t.stateDir, { recursive: true, mode: 0o700 });
  const shell = process.env.SHELL || "/bin/bash";
  fs.writeFileSync(layout, zellijLayout({ ...t, shell }));
  // list-sessions exits 1 when there are none: its output is all that matters.
  const listed = spawnSync(zellij, ["list-sessions", "--no-formatting"], { encoding: "utf8" });
  const existing = parseSessions(listed.stdout ?? "").find((x) => x.name === session);
  if (existing && !existing.exited) {
    log(`attaching zellij session ${session}`);
    return run(zellij, ["attach", session], t, stdio);
  }
  // A resurrected session would show an old layout behind "press ENTER to run" banners.
  if (existing) spawnSync(zellij, ["delete-session", session], { stdio: "ignore" });
  log(`starting zellij session ${session} (layout ${layout})`);
  return run(zellij, ["--session", session, "--layout", layout], t, stdio);
}

async function openShell(
  t: Target,
  log: (line: string) => void,
  stdio: OpenOptions["stdio"],
): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-open-"));
  const rcfile = path.join(dir, "bashrc");
  const envSh = shellQuote(t.envSh, { minimal: true });
  fs.writeFileSync(
    rcfile,
    [
      `# envctl open ${t.name}: the user's ~/.bashrc, then the env's exports.`,
      "if [ -f ~/.bashrc ]; then . ~/.bashrc; fi",
      `if [ -f ${envSh} ]; then . ${envSh}; fi`,
      `export ENVCTL_ENV=${shellQuote(t.name, { minimal: true })}`,
      `PS1=${shellQuote(`(envctl:${t.name}) `, { minimal: true })}"\${PS1-}"`,
      "",
    ].join("\n"),
  );
  log(`opening a shell in ${t.worktree} with env.sh loaded (zellij not installed)`);
  try {
    return await run("bash", ["--rcfile", rcfile, "-i"], t, stdio);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the child in the worktree with the terminal (or the test's pipes); its exit code. */
function run(cmd: string, args: string[], t: Target, stdio: OpenOptions["stdio"]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: t.worktree,
      env: { ...process.env, ENVCTL_ENV: t.name },
      stdio: stdio ? "pipe" : "inherit",
    });
    if (stdio) {
      child.stdout?.setEncoding("utf8").on("data", stdio.stdout);
      child.stderr?.setEncoding("utf8").on("data", stdio.stderr ?? (() => undefined));
      child.stdin?.on("error", () => undefined); // the child may exit before reading it all
      child.stdin?.end(stdio.input);
    }
    child.once("error", (err) => reject(new UserError(`cannot start ${cmd}: ${err.message}`)));
    child.once("close", (code, signal) => {
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
}
