/**
 * How envctl's Docker client logs in to an `ssh://` engine: the deploy key (the endpoint's
 * `identity` parameter, else ENVCTL_SSH_KEY, else the SSH agent) and the host's key checked
 * against envctl's own known_hosts file (`$ENVCTL_HOME/known_hosts`, shared with `envctl host`'s
 * OpenSSH client): a new host's key is remembered on first use, a changed one is refused.
 */
import { createHmac } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export function knownHostsFile(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.ENVCTL_HOME ?? path.join(os.homedir(), ".envctl");
  return path.join(home, "known_hosts");
}

/** `[host]:port`, or `host` on port 22, as OpenSSH writes known hosts. */
function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function keyType(key: Buffer): string {
  const len = key.readUInt32BE(0);
  return key.subarray(4, 4 + len).toString("latin1");
}

function matches(entry: string, pattern: string): boolean {
  if (entry.startsWith("|1|")) {
    const [, , salt, hash] = entry.split("|");
    if (!salt || !hash) return false;
    const h = createHmac("sha1", Buffer.from(salt, "base64")).update(pattern).digest("base64");
    return h === hash;
  }
  return entry.split(",").includes(pattern);
}

/** Checks `key` (the SSH wire blob) of host:port against the file; remembers a new host. */
export function verifyHostKey(file: string, host: string, port: number, key: Buffer): boolean {
  const pattern = hostPattern(host, port);
  const type = keyType(key);
  const b64 = key.toString("base64");
  const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n") : [];
  let known = false;
  for (const line of lines) {
    const [hosts, t, k] = line.trim().split(/\s+/);
    if (!hosts || hosts.startsWith("#") || !matches(hosts, pattern) || t !== type) continue;
    known = true;
    if (k === b64) return true;
  }
  if (known) return false; // a key of this type is on record for the host, and it is another
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.appendFileSync(file, `${pattern} ${type} ${b64}\n`, { mode: 0o600 });
  return true;
}

/**
 * Drops what the file knows of host:port (plain and hashed entries): a VM the stack has just
 * created may have an address another machine had, whose key is not this one's.
 * Returns how many entries went.
 */
export function forgetHostKey(file: string, host: string, port: number): number {
  if (!fs.existsSync(file)) return 0;
  const pattern = hostPattern(host, port);
  let dropped = 0;
  const kept: string[] = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const [hosts, ...rest] = line.trim().split(/\s+/);
    if (!hosts || hosts.startsWith("#") || !matches(hosts, pattern)) {
      kept.push(line);
      continue;
    }
    dropped += 1;
    // `a,b type key`: b keeps its entry.
    const others = hosts.startsWith("|1|") ? [] : hosts.split(",").filter((h) => h !== pattern);
    if (others.length > 0) kept.push([others.join(","), ...rest].join(" "));
  }
  if (dropped === 0) return 0;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, kept.join("\n"), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return dropped;
}

/**
 * The ssh2 options for one endpoint (its keys and the host check). The keys are tried in turn:
 * the endpoint's key file when this machine has it (a stack's state may hold another machine's
 * path for the same host), ENVCTL_SSH_KEY, then the SSH agent.
 */
export function sshOptions(
  url: URL,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const port = Number(url.port || 22);
  const username = decodeURIComponent(url.username) || "root";
  const files = [url.searchParams.get("identity"), env.ENVCTL_SSH_KEY].filter(
    (f, i, all): f is string => !!f && fs.existsSync(f) && all.indexOf(f) === i,
  );
  const keys = files.map((f) => fs.readFileSync(f));
  const auth: Record<string, unknown>[] = keys.map((key) => ({
    type: "publickey",
    username,
    key,
  }));
  if (env.SSH_AUTH_SOCK) auth.push({ type: "agent", username, agent: env.SSH_AUTH_SOCK });
  // One way in: ssh2's own options. Several: the list alone (ssh2 parses `privateKey` up
  // front and fails on one it cannot read, so the others would never be tried).
  const ways =
    auth.length > 1
      ? { authHandler: auth }
      : {
          ...(keys[0] ? { privateKey: keys[0] } : {}),
          ...(env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {}),
        };
  return {
    ...ways,
    readyTimeout: 20_000,
    // A link that drops mid-call is noticed within 30 s instead of hanging the call.
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => verifyHostKey(knownHostsFile(env), url.hostname, port, key),
  };
}
