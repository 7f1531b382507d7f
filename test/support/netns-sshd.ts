/**
 * A test host of its own: a network namespace with its own address (a veth pair from this
 * machine), running Debian's sshd there with a generated host key and client key. Its Docker is
 * this machine's engine reached over SSH (`docker system dial-stdio` run by the SSH login), so
 * an `ssh://` target is exercised end to end: transport, key login, host-key check, the
 * remote's paths.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "./env";
import { answers, SSHD, sshdConfig } from "./sshd";

export interface NetnsHost {
  /** The namespace's address. */
  address: string;
  user: string;
  /** Private key sshd accepts. */
  identity: string;
  dir: string;
  log(): string;
  /** Stops sshd (the host becomes unreachable), and starts it again. */
  stop(): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

const ip = (...args: string[]): void => void execFileSync("ip", args, { stdio: "ignore" });

export async function startNetnsHost(): Promise<NetnsHost> {
  const id = (process.pid % 200) + 20;
  const ns = `envctl-t${process.pid}`;
  const hostSide = `evh${process.pid % 100000}`;
  const nsSide = `evn${process.pid % 100000}`;
  const [here, there] = [`10.250.${id}.1`, `10.250.${id}.2`];
  const dir = tempDir("netns-sshd");
  for (const k of ["host_key", "client_key"]) {
    execFileSync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "envctl-test",
      "-f",
      path.join(dir, k),
    ]);
  }
  const authorized = path.join(dir, "authorized_keys");
  fs.copyFileSync(path.join(dir, "client_key.pub"), authorized);
  fs.chmodSync(authorized, 0o600);
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  ip("netns", "add", ns);
  ip("link", "add", hostSide, "type", "veth", "peer", "name", nsSide);
  ip("link", "set", nsSide, "netns", ns);
  ip("addr", "add", `${here}/30`, "dev", hostSide);
  ip("link", "set", hostSide, "up");
  ip("netns", "exec", ns, "ip", "addr", "add", `${there}/30`, "dev", nsSide);
  ip("netns", "exec", ns, "ip", "link", "set", nsSide, "up");
  ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(config, sshdConfig({ listen: there, port: 22, dir, authorized }));
  let output = "";
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const launch = async (): Promise<void> => {
    const c = spawn("ip", ["netns", "exec", ns, SSHD, "-D", "-e", "-f", config], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    c.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    c.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    child = c;
    const deadline = Date.now() + 10_000;
    while (!(await answers(there, 22))) {
      if (Date.now() > deadline)
        throw new Error(`sshd in ${ns} did not answer on ${there}:22:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async (): Promise<void> => {
    child?.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    child = undefined;
  };
  const cleanup = async (): Promise<void> => {
    await stop();
    try {
      ip("link", "del", hostSide);
    } catch {
      // gone with the namespace
    }
    try {
      ip("netns", "del", ns);
    } catch {
      // already gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await launch();
  } catch (err) {
    await cleanup();
    throw err;
  }
  return {
    address: there,
    user: "root",
    identity: path.join(dir, "client_key"),
    dir,
    log: () => output,
    stop,
    start: launch,
    cleanup,
  };
}
