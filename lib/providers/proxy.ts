/**
 * The proxy's route: the Caddyfile for the current upstream container, written into the proxy
 * container and loaded with a graceful `caddy reload` (connections in flight finish on the old
 * upstream). Retried while Caddy's admin endpoint is still starting.
 */
import type { DockerEndpoint } from "../docker/client";
import { execIn } from "../docker/exec";
import { differs, type Handler } from "./types";

/** Where the Caddyfile envctl writes lives in the proxy container (its /config volume). */
export const CADDYFILE = "/config/envctl/Caddyfile";

export interface Route {
  domain: string;
  tls: boolean;
  email?: string;
  /** The container proxied to, and its port. */
  upstream: string;
  port: number;
}

/** The Caddyfile of one route (pure). */
export function caddyfile(r: Route): string {
  const global = r.email ? `{\n\temail ${r.email}\n}\n\n` : "";
  const site = r.tls ? r.domain : `http://${r.domain}`;
  return (
    global +
    `${site} {\n` +
    `\treverse_proxy ${r.upstream}:${r.port} {\n` +
    // A dial that fails while a container starts or stops is tried again, not answered 502.
    `\t\tlb_try_duration 10s\n` +
    `\t\tlb_try_interval 100ms\n` +
    `\t}\n` +
    `}\n`
  );
}

interface RouteInputs extends Route {
  /** The proxy's container. */
  container: string;
  dockerHost?: DockerEndpoint;
}

const SCRIPT = `mkdir -p "$(dirname "$1")" && printf '%s' "$2" > "$1" && caddy reload --config "$1" --adapter caddyfile --force`;

async function apply(i: RouteInputs): Promise<void> {
  const text = caddyfile(i);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await execIn(i.container, ["sh", "-c", SCRIPT, "sh", CADDYFILE, text], {
      host: i.dockerHost,
      timeoutMs: 30_000,
    });
    if (r.code === 0) return;
    if (Date.now() > deadline) {
      const out = r.output.trim().split("\n").slice(-5).join("\n  | ");
      throw new Error(`the proxy ${i.container} refused the route to ${i.upstream}:\n  | ${out}`);
    }
    await new Promise((res) => setTimeout(res, 250));
  }
}

export const proxyRoute: Handler = {
  async create(inputs) {
    const i = inputs as unknown as RouteInputs;
    await apply(i);
    return { id: `${i.container}:${i.domain}`, outs: inputs };
  },
  diff(_id, olds, news) {
    const keys = ["container", "upstream", "port", "domain", "tls", "email", "dockerHost"];
    const changed = differs(olds, news, keys);
    const replaces = changed.filter((k) => k === "container" || k === "dockerHost");
    return Promise.resolve({ changes: changed.length > 0, replaces });
  },
  async update(_id, _olds, news) {
    await apply(news as unknown as RouteInputs);
    return { outs: news };
  },
  // The proxy's container goes with the env; nothing else holds the route.
  delete: () => Promise.resolve(),
};
