/**
 * Where a hivesync env's containers run. `ssh`: the Docker engine of that host, reached over SSH
 * (`ssh://user@host:port`, the deploy key as the endpoint's `identity`), with the checkout's
 * bind sources under `<root>/<env>` there. A host of the catalog can be named by its id.
 */
import * as path from "node:path";
import { UserError } from "../../core/errors";
import type { SshTargetSpec } from "../../spec/model";

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

export function remoteRoot(ssh: SshTargetSpec, env: string): string {
  return path.posix.join(ssh.root, env);
}
