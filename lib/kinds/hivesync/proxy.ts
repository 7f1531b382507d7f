/**
 * The reverse proxy of a hivesync env: a Caddy container on the host's 80/443 (automatic TLS)
 * in front of one service, which is then rolled out new-container-first: the new container is
 * started and health-gated under a name of its own, the proxy is switched to it (a graceful
 * Caddy reload), and only then is the old one removed. A new container that fails its health
 * check is removed and the old one keeps serving.
 */
import { PROXY_SERVICE } from "../../spec/hivesync";
import type { ProxySpec, ResolvedContainer, ResolvedService } from "../../spec/model";

/** The site's public URL: what `BASE_URL` becomes. */
export function siteUrl(p: ProxySpec): string {
  const scheme = p.tls ? "https" : "http";
  const port = p.tls ? p.httpsPort : p.httpPort;
  const standard = p.tls ? 443 : 80;
  return `${scheme}://${p.domain}${port === standard ? "" : `:${port}`}`;
}

/**
 * The env's services with the proxy: the proxied one unpublished (the proxy serves it) and
 * rolled out start-first, `BASE_URL` set to the site's URL wherever a service reads it, and the
 * proxy's own container after it.
 */
export function withProxy(services: ResolvedService[], p: ProxySpec): ResolvedService[] {
  const url = siteUrl(p);
  const out = services.map((s): ResolvedService => {
    const env = "BASE_URL" in s.env ? { ...s.env, BASE_URL: url } : s.env;
    if (s.name !== p.service || s.type !== "container") return { ...s, env };
    return { ...s, env, ports: [], rollout: "start-first" };
  });
  const proxy: ResolvedContainer = {
    name: PROXY_SERVICE,
    type: "container",
    image: p.image,
    // --resume: after a restart Caddy serves the last route it was given (its autosave).
    command: [
      "caddy",
      "run",
      "--resume",
      "--config",
      "/etc/caddy/Caddyfile",
      "--adapter",
      "caddyfile",
    ],
    env: {},
    ports: [
      { container: 80, offset: -1, host: p.httpPort, protocol: "tcp" },
      { container: 443, offset: -1, host: p.httpsPort, protocol: "tcp" },
    ],
    volumes: [
      { source: "caddy-data", target: "/data", kind: "volume", readOnly: false },
      { source: "caddy-config", target: "/config", kind: "volume", readOnly: false },
    ],
    dependsOn: [p.service],
    cold: false,
  };
  return [...out, proxy];
}
