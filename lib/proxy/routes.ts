/**
 * The `*.localhost` router's table: one file per env under `$ENVCTL_HOME/proxy/routes.d/`
 * (written by the env's LocalRoutes resource, lib/providers/routes.ts), read by the proxy
 * daemon (main.ts). `*.localhost` names resolve to loopback by themselves (RFC 6761; browsers
 * and glibc's resolver know it), so nothing is written to /etc/hosts and no root is needed.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export interface Route {
  /** The label before the env's: `gateway` in gateway.t1.localhost. */
  subdomain: string;
  service: string;
  /** The host port on 127.0.0.1 the service answers on. */
  port: number;
}

export interface EnvRoutes {
  env: string;
  /** The port the env asked the proxy to listen on (the first env's wins). */
  proxyPort: number;
  routes: Route[];
}

export const proxyDir = (home: string): string => path.join(home, "proxy");
export const routesDir = (home: string): string => path.join(proxyDir(home), "routes.d");
/** The daemon's name for its pid and log files (lib/runtime/daemon.ts) in proxyDir. */
export const PROXY = "proxy";

export function readRoutes(home: string): EnvRoutes[] {
  let files: string[];
  try {
    files = fs.readdirSync(routesDir(home)).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  return files.sort().flatMap((f) => {
    try {
      return [JSON.parse(fs.readFileSync(path.join(routesDir(home), f), "utf8")) as EnvRoutes];
    } catch {
      return []; // being rewritten (write-then-rename makes this rare) or removed
    }
  });
}

/** Where a Host header goes: `<subdomain>.<env>.localhost`, or `<subdomain>.localhost` when one env has it. */
export type Resolution =
  | { target: { port: number; env: string; service: string } }
  | { miss: "not-localhost" | "unknown" | "ambiguous"; candidates?: string[] };

export function resolveHost(host: string | undefined, table: EnvRoutes[]): Resolution {
  const name = (host ?? "").replace(/:\d+$/, "").replace(/\.$/, "").toLowerCase();
  if (!name.endsWith(".localhost")) return { miss: "not-localhost" };
  const labels = name.slice(0, -".localhost".length).split(".");
  if (labels.length >= 2) {
    // `<sub>.<env>.localhost` (anything before them is ignored, as a wildcard would).
    const [sub, env] = labels.slice(-2) as [string, string];
    const e = table.find((t) => t.env.toLowerCase() === env);
    const r = e?.routes.find((x) => x.subdomain === sub);
    return e && r
      ? { target: { port: r.port, env: e.env, service: r.service } }
      : { miss: "unknown" };
  }
  const sub = labels[0]!;
  const hits = table.flatMap((t) =>
    t.routes.filter((r) => r.subdomain === sub).map((r) => ({ env: t.env, r })),
  );
  if (hits.length === 1) {
    const { env, r } = hits[0]!;
    return { target: { port: r.port, env, service: r.service } };
  }
  if (hits.length > 1)
    return { miss: "ambiguous", candidates: hits.map((h) => `${sub}.${h.env}.localhost`) };
  return { miss: "unknown" };
}

/** Every address the table serves, as the 502 page lists them. */
export function routeNames(
  table: EnvRoutes[],
): { host: string; env: string; service: string; port: number }[] {
  const count = new Map<string, number>();
  for (const t of table)
    for (const r of t.routes) count.set(r.subdomain, (count.get(r.subdomain) ?? 0) + 1);
  return table.flatMap((t) =>
    t.routes.flatMap((r) => {
      const full = {
        host: `${r.subdomain}.${t.env}.localhost`,
        env: t.env,
        service: r.service,
        port: r.port,
      };
      return count.get(r.subdomain) === 1
        ? [full, { ...full, host: `${r.subdomain}.localhost` }]
        : [full];
    }),
  );
}

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page an unknown host (or an upstream that does not answer) gets, listing the routes. */
export function page502(why: string, table: EnvRoutes[], proxyPort: number): string {
  const rows = routeNames(table)
    .map(
      (r) =>
        `<li><a href="http://${escape(r.host)}:${proxyPort}/">${escape(r.host)}:${proxyPort}</a> &rarr; ${escape(r.env)}/${escape(r.service)} (127.0.0.1:${r.port})</li>`,
    )
    .join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>502 envctl proxy</title></head>
<body><h1>502 Bad Gateway</h1><p>${escape(why)}</p>
<h2>Routes</h2>${rows ? `<ul>\n${rows}\n</ul>` : "<p>No env routes anything right now.</p>"}
</body></html>
`;
}
