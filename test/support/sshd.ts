/**
 * A real OpenSSH server for tests: Debian's /usr/sbin/sshd on a free loopback port, with its own
 * host key, a generated client key as the only way in, and everything in one temp directory.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { tempDir } from "./env";

export const SSHD = "/usr/sbin/sshd";

export interface Sshd {
  port: number;
  /** The login the client key is authorized for (the user running the tests). */
  user: string;
  /** Private key that sshd accepts. */
  identity: string;
  dir: string;
  /** What sshd printed (-e), for failure messages. */
  log(): string;
  /** Stops sshd (idempotent); the directory stays until `cleanup`. */
  stop(): Promise<void>;
  /** Stops sshd and removes its directory. */
  cleanup(): Promise<void>;
}

/**
 * An sshd_config for a test server: key login only (root too), the host key and pid file in
 * `dir`, no PAM, verbose logs.
 */
export function sshdConfig(o: {
  listen: string;
  port: number;
  dir: string;
  authorized: string;
}): string {
  return [
    `ListenAddress ${o.listen}`,
    `Port ${o.port}`,
    `HostKey ${path.join(o.dir, "host_key")}`,
    `AuthorizedKeysFile ${o.authorized}`,
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin prohibit-password",
    "StrictModes no",
    `PidFile ${path.join(o.dir, "sshd.pid")}`,
    "UsePAM no",
    "LogLevel VERBOSE",
    "",
  ].join("\n");
}

/** Whether something on host:port sends a first line (an SSH banner) within a second. */
export async function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.once("data", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function keygen(file: string): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "envctl-test", "-f", file]);
}

/** Starts sshd; fails (never skips) when it is not installed. */
export async function startSshd(): Promise<Sshd> {
  if (!fs.existsSync(SSHD)) {
    throw new Error(
      `${SSHD} is not installed: run \`bash scripts/setup ssh\` (Debian's openssh-server)`,
    );
  }
  const dir = tempDir("sshd");
  const hostKey = path.join(dir, "host_key");
  const identity = path.join(dir, "client_key");
  keygen(hostKey);
  keygen(identity);
  const authorized = path.join(dir, "authorized_keys");
  fs.copyFileSync(`${identity}.pub`, authorized);
  fs.chmodSync(authorized, 0o600);
  // sshd's privilege separation directory; the package normally creates it at boot.
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

  const port = await freePort();
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(config, sshdConfig({ listen: "127.0.0.1", port, dir, authorized }));

  let output = "";
  const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );

  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill("SIGTERM");
    await exit;
  };
  const deadline = Date.now() + 10_000;
  while (!(await answers("127.0.0.1", port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`sshd did not start on 127.0.0.1:${port}\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    user: os.userInfo().username,
    identity,
    dir,
    log: () => output,
    stop,
    cleanup: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
