/** Shared fixtures for engine and e2e tests: temp homes, temp git repos, leak checks. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after } from "node:test";
import { Catalog } from "../../lib/catalog/catalog";
import { envDir, resolveHome, type Home } from "../../lib/core/home";
import type { ResolvedEnv } from "../../lib/spec/model";
import { projectRoot } from "../../lib/core/toolchain";

/** The envctl project, from sources (tsx) or from dist/ (the benches). */
export const ROOT = projectRoot();
export const DEMO = path.join(ROOT, "presets", "demo");

/**
 * The body of a spec's container service that answers TCP on 6379 (perl on debian:bookworm,
 * the quickest real TCP server the base image has), indented for `services.NAME:`.
 */
export const PONG_CONTAINER = [
  "    image: debian:bookworm",
  "    command:",
  "      - perl",
  "      - -MIO::Socket::INET",
  "      - -e",
  `      - '$s = IO::Socket::INET->new(LocalPort => 6379, Listen => 5, ReuseAddr => 1) or die; while ($c = $s->accept) { print $c "+PONG\\r\\n"; close $c }'`,
  "    ports: [6379]",
].join("\n");

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `envctl-${prefix}-`));
}

/**
 * A maker of temp dirs that are all removed after the calling test file; `track` adds dirs made
 * elsewhere (makeRepo) to the same cleanup. Call it at a test file's top level.
 */
export function scratchDirs(): ((prefix: string) => string) & { track(dir: string): string } {
  const made: string[] = [];
  after(() => {
    for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  const make = (prefix: string): string => {
    // realpath: what a shell's `pwd` prints (macOS /var -> /private/var)
    const d = fs.realpathSync(tempDir(prefix));
    made.push(d);
    return d;
  };
  return Object.assign(make, {
    track(dir: string): string {
      made.push(dir);
      return dir;
    },
  });
}

export function tempHome(): Home {
  return resolveHome({ ENVCTL_HOME: tempDir("home") });
}

/** A real git repo holding `files` (relative path -> content) or a copy of `copyFrom`, committed on main. */
export function makeRepo(opts: { copyFrom?: string; files?: Record<string, string> }): string {
  const dir = tempDir("repo");
  if (opts.copyFrom) fs.cpSync(opts.copyFrom, dir, { recursive: true });
  for (const [rel, content] of Object.entries(opts.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  git(dir, "init", "-q", "-b", "main");
  git(dir, "add", "-A");
  git(dir, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "init");
  return dir;
}

export function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" });
}

/** Unique env name per test run so parallel or leftover runs never collide. */
export function envName(prefix: string): string {
  return `${prefix}-${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

/** Everything Docker still holds for an env, asked of Docker itself. */
export function dockerLeftovers(env: string): {
  containers: string[];
  volumes: string[];
  networks: string[];
} {
  const q = (...args: string[]): string[] =>
    execFileSync("docker", args, { encoding: "utf8" })
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  const filter = `label=envctl.env=${env}`;
  return {
    containers: q("ps", "-a", "-q", "--filter", filter),
    volumes: q("volume", "ls", "-q", "--filter", filter),
    networks: q("network", "ls", "-q", "--filter", filter),
  };
}

export function worktreeDirs(repo: string): string[] {
  return git(repo, "worktree", "list", "--porcelain")
    .split("\n")
    .filter((l) => l.startsWith("worktree "))
    .map((l) => l.slice(9));
}

export function branches(repo: string): string[] {
  return git(repo, "branch", "--format=%(refname:short)").split("\n").filter(Boolean);
}

/**
 * GET a URL from the host with node:http (fetch refuses some ports of the blocks, e.g. 10080).
 */
export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
  });
}

/**
 * Speaks the Postgres wire protocol to a host port: an SSLRequest must be answered with a single
 * 'S' or 'N' byte by a live server (what pg_isready relies on).
 */
export function postgresAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, 5000);
    sock.on("connect", () => {
      const req = Buffer.alloc(8);
      req.writeInt32BE(8, 0);
      req.writeInt32BE(80877103, 4);
      sock.write(req);
    });
    sock.on("data", (d) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(d.length >= 1 && (d[0] === 0x4e || d[0] === 0x53));
    });
    sock.on("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** Captures a command's out/log seams. */
export function capture(): {
  out: string[];
  log: string[];
  seams: { out: (t: string) => void; log: (l: string) => void };
} {
  const out: string[] = [];
  const log: string[] = [];
  return { out, log, seams: { out: (t) => out.push(t), log: (l) => log.push(l) } };
}

/**
 * An env as `up` leaves it in the catalog (row + desired ResolvedEnv), without the engine: for
 * commands that only read the catalog and the state dir (logs, open). Creates the state dir.
 */
export function seedEnv(home: Home, name: string, fields: Partial<ResolvedEnv> = {}): ResolvedEnv {
  const stateDir = envDir(home, name);
  fs.mkdirSync(stateDir, { recursive: true });
  const resolved: ResolvedEnv = {
    schemaVersion: 2,
    name,
    kind: "devenv",
    home: home.root,
    block: 0,
    base: 10000,
    repo: "/nowhere",
    baseRef: "main",
    branch: `${name}-workspace`,
    worktreeDir: path.join(home.worktreesDir, name),
    state: "warm",
    stateDir,
    services: [],
    envSh: "",
    init: [],
    initAfter: [],
    ...fields,
  };
  const catalog = Catalog.open(home.catalogFile);
  try {
    catalog.upsertEnv({
      name,
      kind: "devenv",
      specHash: "h",
      host: "localhost",
      worktreePath: resolved.worktreeDir,
      branch: resolved.branch,
      block: resolved.block,
      status: "ready",
      outputs: null,
    });
    catalog.setDesired(name, resolved);
  } finally {
    catalog.close();
  }
  return resolved;
}
