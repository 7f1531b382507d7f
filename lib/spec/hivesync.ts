/**
 * What the hivesync kind adds to reading a spec (lib/spec stays below lib/kinds): its block's
 * defaults, which variables are secrets, and the checks that need the whole spec.
 */
import * as path from "node:path";
import type { HivesyncDoc } from "./hivesync-schema";
import type { EnvSpec, HivesyncSpec, Service, SpecIssue } from "./model";

/**
 * The linode target's VM, as the document sizes it. Ubuntu packages Docker and the compose
 * plugin (`docker-compose-v2`); Debian 12 has no plugin.
 */
export const LINODE_IMAGE = "linode/ubuntu24.04";
/** The document's size suggestion: 2 vCPU, 4 GB. */
export const LINODE_TYPE = "g6-standard-2";
export const LINODE_REGION = "us-east";
/** Where the app's files live on a remote host (the document's /opt/HiveSync). */
export const REMOTE_ROOT = "/opt/hivesync";

/** Names that hold secrets by their last part (`JWT_SECRET`, `OPENAI_API_KEY`, ...). */
const SECRET_NAME_RE = /(^|_)(SECRET|PASSWORD|KEY|TOKEN)$/;

/** `name` holds a secret: by its suffix, or because the spec lists it. */
export function isSecretVar(name: string, extra: readonly string[] = []): boolean {
  return SECRET_NAME_RE.test(name.toUpperCase()) || extra.includes(name);
}

/** The env template's placeholder for a value the operator must fill in. */
export const PLACEHOLDER_RE = /^REPLACE_ME/;

/** What `--generate-secrets` fills unless the spec names others. */
export const GENERATED_BY_DEFAULT = ["JWT_SECRET", "PREVIEW_TOKEN_SECRET"];

/** The health check's Redis lists and heartbeat keys, as the document's worker uses them. */
export const DEFAULT_QUEUES = ["preview_build", "cleanup"];
export const DEFAULT_HEARTBEATS = "hivesync:heartbeat:*";

/** The proxy's image and the service name it runs as. */
export const PROXY_IMAGE = "caddy:2";
export const PROXY_SERVICE = "proxy";

export function normalizeHivesync(
  doc: HivesyncDoc | undefined,
  services: Service[],
  dir: string,
): HivesyncSpec {
  const has = (n: string): string | undefined =>
    services.some((s) => s.name === n) ? n : undefined;
  const h = doc?.health ?? {};
  const postgres = h.postgres ?? has("postgres");
  const redis = h.redis ?? has("redis");
  const p = doc?.proxy;
  return {
    target: doc?.target ?? "local",
    ...(doc?.ssh
      ? {
          ssh: {
            host: doc.ssh.host,
            ...(doc.ssh.identity_file
              ? { identityFile: path.resolve(dir, doc.ssh.identity_file) }
              : {}),
            root: doc.ssh.root ?? REMOTE_ROOT,
          },
        }
      : {}),
    ...(doc?.linode || doc?.target === "linode"
      ? {
          linode: {
            region: doc.linode?.region ?? LINODE_REGION,
            type: doc.linode?.type ?? LINODE_TYPE,
            image: doc.linode?.image ?? LINODE_IMAGE,
            ...(doc.linode?.identity_file
              ? { identityFile: path.resolve(dir, doc.linode.identity_file) }
              : {}),
            ...(doc.linode?.public_key ? { publicKey: doc.linode.public_key } : {}),
            readyTimeoutMs: doc.linode?.ready_timeout ?? 900_000,
          },
        }
      : {}),
    ...(p
      ? {
          proxy: {
            domain: p.domain,
            service: p.service ?? "backend",
            port: p.port ?? 4000,
            tls: p.tls ?? true,
            ...(p.email ? { email: p.email } : {}),
            httpPort: p.http_port ?? 80,
            httpsPort: p.https_port ?? 443,
            image: p.image ?? PROXY_IMAGE,
          },
        }
      : {}),
    secrets: doc?.secrets ?? [],
    generate: doc?.generate ?? GENERATED_BY_DEFAULT,
    deploy: {
      after: (doc?.deploy?.after ?? []).map((s) => ({
        service: s.service,
        run: s.run,
        timeoutMs: s.timeout ?? 300_000,
      })),
    },
    health: {
      ...(postgres ? { postgres } : {}),
      ...(redis ? { redis } : {}),
      queues: h.queues ?? DEFAULT_QUEUES,
      heartbeats: h.heartbeats ?? DEFAULT_HEARTBEATS,
      maxHeartbeatAgeMs: h.max_heartbeat_age ?? 60_000,
      maxQueueDepth: h.max_queue_depth ?? 100,
      timeoutMs: h.timeout ?? 60_000,
    },
  };
}

/** Deploy steps and health checks name container services of the spec. */
export function hivesyncIssues(spec: EnvSpec): SpecIssue[] {
  const h = spec.hivesync;
  if (spec.kind !== "hivesync" || !h) return [];
  const out: SpecIssue[] = [];
  const byName = new Map(spec.services.map((s) => [s.name, s]));
  const container = (at: string, name: string, what: string): void => {
    const svc = byName.get(name);
    if (!svc) {
      const known = [...byName.keys()].join(", ");
      out.push({
        path: at,
        message: `unknown service ${JSON.stringify(name)} (services: ${known})`,
      });
    } else if (svc.type !== "container") {
      out.push({ path: at, message: `${name} is a process service; ${what} runs in a container` });
    }
  };
  if (h.target === "ssh" && !h.ssh) {
    out.push({
      path: "hivesync.ssh",
      message: 'required with target ssh: { host: "user@host[:port]" }',
    });
  }
  if (h.target !== "ssh" && h.ssh) {
    out.push({ path: "hivesync.ssh", message: 'applies to target ssh only: add "target: ssh"' });
  }
  if (h.target !== "linode" && h.linode) {
    out.push({
      path: "hivesync.linode",
      message: 'applies to target linode only: add "target: linode"',
    });
  }
  h.deploy.after.forEach((s, i) =>
    container(`hivesync.deploy.after[${i}].service`, s.service, "a deploy step"),
  );
  if (h.proxy) {
    container("hivesync.proxy.service", h.proxy.service, "the proxied app");
    if (byName.has(PROXY_SERVICE)) {
      out.push({
        path: `services.${PROXY_SERVICE}`,
        message: `the name is taken by hivesync.proxy's own service: rename this service`,
      });
    }
    const svc = byName.get(h.proxy.service);
    if (svc && svc.type === "container" && (svc.replicas ?? 1) > 1) {
      out.push({
        path: `services.${svc.name}.replicas`,
        message: "a service behind hivesync.proxy runs one container (it is rolled out new-first)",
      });
    }
  }
  if (h.health.postgres) container("hivesync.health.postgres", h.health.postgres, "psql");
  if (h.health.redis) container("hivesync.health.redis", h.health.redis, "redis-cli");
  return out;
}
