/** Helpers for engine tests that touch Docker: CLI access, free host ports, leak sweeps. */
import { execFileSync, spawnSync } from "node:child_process";
import * as net from "node:net";
import { listByLabel, removeContainer, removeNetwork, removeVolume } from "../../lib/docker/index";

export function dockerAvailable(): boolean {
  return spawnSync("docker", ["info"], { stdio: "ignore" }).status === 0;
}

/** Runs the docker CLI and returns its trimmed stdout (throws on non-zero exit). */
export function cli(...args: string[]): string {
  return execFileSync("docker", args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

/** What the docker CLI still lists with label key=value (names, newline separated). */
export function leftovers(
  key: string,
  value: string,
): { containers: string; volumes: string; networks: string } {
  const filter = `label=${key}=${value}`;
  return {
    containers: cli("ps", "-a", "--filter", filter, "--format", "{{.Names}}"),
    volumes: cli("volume", "ls", "-q", "--filter", filter),
    networks: cli("network", "ls", "-q", "--filter", filter),
  };
}

/** Removes everything labelled key=value, containers first (they hold volumes and networks). */
export async function cleanupByLabel(key: string, value: string): Promise<void> {
  const found = await listByLabel(key, value);
  await Promise.all(found.containers.map((c) => removeContainer(c)));
  await Promise.all(found.volumes.map((v) => removeVolume(v)));
  await Promise.all(found.networks.map((nw) => removeNetwork(nw)));
}

/** A port in 40000-49999 that nothing on this host is bound to right now. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 40_000 + Math.floor(Math.random() * 10_000);
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "0.0.0.0", () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port found in 40000-49999");
}
