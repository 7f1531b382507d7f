/**
 * A new VM is ready for a deploy once SSH answers with the deploy key, cloud-init has finished
 * (`cloud-init status --wait`) and Docker runs (`docker info`). Until then the check is retried;
 * after `timeoutMs` the create fails with the last reason, and the next update checks again.
 */
import { forgetHostKey, knownHostsFile } from "../docker/ssh-auth";
import { sshFailure, sshRun, type SshTarget } from "../hosts/ssh";
import type { Handler } from "./types";

interface ReadyInputs {
  address: string;
  user: string;
  port: number;
  keyFile: string;
  timeoutMs: number;
}

const CHECK =
  "command -v cloud-init >/dev/null 2>&1 && cloud-init status --wait >/dev/null 2>&1; docker info --format '{{.ServerVersion}}'";

export async function waitHostReady(i: ReadyInputs, signal?: AbortSignal): Promise<string> {
  const target: SshTarget = { host: i.address, port: i.port, user: i.user };
  const deadline = Date.now() + i.timeoutMs;
  let reason = "";
  for (;;) {
    const r = await sshRun(target, CHECK, {
      knownHostsFile: knownHostsFile(),
      identity: i.keyFile,
      timeoutMs: 60_000,
      ...(signal ? { signal } : {}),
    });
    const version = r.stdout.trim().split("\n").pop() ?? "";
    if (r.code === 0 && version) return version;
    reason =
      r.code === 0 || (r.code !== 255 && !r.timedOut)
        ? `docker info on ${i.address} failed: ${r.stderr.trim().split("\n").pop() ?? `exit ${r.code}`}`
        : sshFailure(target, r, 60_000);
    if (Date.now() >= deadline || signal?.aborted) {
      throw new Error(
        `the host ${i.address} is not ready after ${Math.round(i.timeoutMs / 1000)}s: ${reason}`,
      );
    }
    await new Promise((res) => setTimeout(res, 5000));
  }
}

export const hostReady: Handler = {
  async create(inputs) {
    const i = inputs as unknown as ReadyInputs;
    // A new VM: a key on record for its address is another machine's (addresses are reused).
    forgetHostKey(knownHostsFile(), i.address, i.port);
    const docker = await waitHostReady(i);
    return { id: `${i.user}@${i.address}:${i.port}`, outs: { ...inputs, docker } };
  },
  diff(_id, olds, news) {
    const replaces = ["address", "port", "user", "instance"].filter(
      (k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]),
    );
    return Promise.resolve({
      changes: replaces.length > 0 || olds.keyFile !== news.keyFile,
      replaces,
    });
  },
  update(_id, olds, news) {
    return Promise.resolve({ outs: { ...news, docker: olds.docker } });
  },
  // The VM goes after it (and its address to someone else): its key is forgotten with it.
  delete(_id, props) {
    const i = props as unknown as ReadyInputs;
    forgetHostKey(knownHostsFile(), i.address, i.port);
    return Promise.resolve();
  },
};
