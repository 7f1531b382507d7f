/**
 * Where a hivesync env's containers run. `ssh`: the Docker engine of that host, reached over SSH
 * (`ssh://user@host:port`, the deploy key as the endpoint's `identity`), with the checkout's
 * bind sources under `<root>/<env>` there. A host of the catalog can be named by its id.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../../core/errors";
import type { NewHost } from "../../hosts/model";
import type { LinodeTargetSpec, ResolvedEnv, ResolvedLinode } from "../../spec/model";

export interface Endpoint {
  user: string;
  host: string;
  port: number;
  /** The catalog host it is, when named by id. */
  hostId?: string;
}

/** A catalog host's SSH side, by id (the CLI looks it up; lib/kinds does not open the catalog). */
export type HostLookup = (
  id: string,
) =>
  | { id: string; sshHost: string | null; sshPort: number | null; sshUser: string | null }
  | undefined;

/** `user@host[:port]` (user root and port 22 by default), or a catalog host by id. */
export function parseTarget(text: string, lookup: HostLookup = () => undefined): Endpoint {
  const m = /^(?:([^@]+)@)?([^:]+)(?::(\d+))?$/.exec(text);
  if (!m)
    throw new UserError(`hivesync.ssh.host: ${JSON.stringify(text)} is not user@host[:port]`, 2);
  const [, user, host, port] = m;
  if (!user && !port) {
    const rec = lookup(host!);
    if (rec) {
      if (!rec.sshHost) {
        throw new UserError(`hivesync.ssh.host: catalog host ${rec.id} has no SSH address`, 2, [
          `give it one: envctl host add ${rec.id} --ssh user@host`,
        ]);
      }
      return {
        user: rec.sshUser ?? "root",
        host: rec.sshHost,
        port: rec.sshPort ?? 22,
        hostId: rec.id,
      };
    }
  }
  const p = Number(port ?? 22);
  if (p < 1 || p > 65535) throw new UserError(`hivesync.ssh.host: port ${p} must be 1..65535`, 2);
  return { user: user ?? "root", host: host!, port: p };
}

/** The Docker endpoint of the target (its key as a parameter: the providers read it). */
export function dockerEndpoint(e: Endpoint, identityFile?: string): string {
  const base = `ssh://${encodeURIComponent(e.user)}@${e.host.includes(":") ? `[${e.host}]` : e.host}:${e.port}`;
  return identityFile ? `${base}?identity=${encodeURIComponent(identityFile)}` : base;
}

/** The env's directory on a remote host, under the target's root. */
export function remoteRoot(root: string, env: string): string {
  return path.posix.join(root, env);
}

/**
 * A linode target's VM settings with its deploy key read: the spec's identity file, else
 * ENVCTL_SSH_KEY; its public half from the spec, the `.pub` beside it, or `ssh-keygen -y`.
 */
export function resolveLinode(
  spec: LinodeTargetSpec,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedLinode {
  const keyFile = spec.identityFile ?? env.ENVCTL_SSH_KEY;
  const at = spec.identityFile ? "hivesync.linode.identity_file" : "ENVCTL_SSH_KEY";
  if (!keyFile) {
    throw new UserError("hivesync.linode.identity_file: required: the VM's deploy key", 2, [
      "name a private key file there, or set ENVCTL_SSH_KEY to one (the workflows do)",
    ]);
  }
  if (!fs.existsSync(keyFile)) {
    throw new UserError(`${at}: ${keyFile} does not exist`, 2);
  }
  return {
    region: spec.region,
    type: spec.type,
    image: spec.image,
    publicKey: spec.publicKey ?? publicKeyOf(keyFile, at),
    keyFile,
    ...(spec.identityFile ? { identityFile: spec.identityFile } : {}),
    readyTimeoutMs: spec.readyTimeoutMs,
  };
}

/** The OpenSSH public key of a private key file: its `.pub`, else derived by ssh-keygen. */
function publicKeyOf(keyFile: string, at: string): string {
  const pub = `${keyFile}.pub`;
  if (fs.existsSync(pub)) return fs.readFileSync(pub, "utf8").trim();
  try {
    return execFileSync("ssh-keygen", ["-y", "-P", "", "-f", keyFile], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch (err) {
    const why = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new UserError(`${at}: cannot read the public key of ${keyFile}: ${why}`, 2, [
      "give it as hivesync.linode.public_key, or put it beside the key as a .pub file",
    ]);
  }
}

/**
 * The env as the CLI records it after an update: a linode target's Docker endpoint is the
 * stack's output (`host.dockerHost`, the VM's address); without one (a failed first update)
 * the one recorded before is kept. Other envs are recorded as they are.
 */
export function withEngine(
  env: ResolvedEnv,
  outputs: Record<string, unknown> | undefined,
  before?: ResolvedEnv | null,
): ResolvedEnv {
  if (env.hivesync?.target !== "linode") return env;
  const host = outputs?.host as { dockerHost?: unknown } | undefined;
  const endpoint =
    typeof host?.dockerHost === "string" ? host.dockerHost : (before?.dockerHost ?? undefined);
  return endpoint ? { ...env, dockerHost: endpoint } : env;
}

/**
 * The catalog host a linode env's VM is, once its address is known (`envctl host show` lists
 * the env on it): its id is the VM's label, SSH as root on 22. Undefined for other envs.
 */
export function vmHost(env: ResolvedEnv, outputs: Record<string, unknown>): NewHost | undefined {
  const address = (outputs.host as { address?: unknown } | undefined)?.address;
  if (env.hivesync?.target !== "linode" || !env.hostId || typeof address !== "string") {
    return undefined;
  }
  return {
    id: env.hostId,
    host: address,
    port: 2375,
    sshHost: address,
    sshPort: 22,
    sshUser: "root",
    status: "online",
  };
}

/** The address of the VM a recorded linode env ran on (its recorded endpoint's host). */
export function vmAddress(env: ResolvedEnv | null | undefined): string | undefined {
  if (env?.hivesync?.target !== "linode" || !env.dockerHost) return undefined;
  return new URL(env.dockerHost).hostname;
}
