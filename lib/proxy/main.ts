/**
 * `node main.js <home> <port>`: the home's `*.localhost` proxy (the a3s document's ProxyRouter).
 * HTTP/1.1 and websocket upgrades pass through to `127.0.0.1:<service port>` by Host header
 * (lib/proxy/routes.ts); an unknown host gets a 502 page listing the routes. It rereads the
 * routes every 250 ms (they change on warm, cool and destroy) and exits by itself once no env
 * routes anything. Started by the first env that needs it (lib/providers/routes.ts).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import httpProxy from "http-proxy";
import { page502, readRoutes, resolveHost, routesDir, type EnvRoutes } from "./routes";

const home = process.argv[2]!;
const port = Number(process.argv[3]);
let table: EnvRoutes[] = readRoutes(home);
let seenMtime = 0;
let emptySince: number | undefined;

/** The table as of now: a route file written or removed changes the directory's mtime. */
function current(): EnvRoutes[] {
  try {
    const m = fs.statSync(routesDir(home)).mtimeMs;
    if (m !== seenMtime) {
      seenMtime = m;
      table = readRoutes(home);
    }
  } catch {
    table = [];
  }
  return table;
}
const GRACE_MS = 2000;

// Connections to the services are kept open and reused: a new one per request would cost
// more than the forwarding itself.
const agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64 });
const proxy = httpProxy.createProxyServer({ xfwd: true, ws: true, agent });
proxy.on("error", (err, _req, res) => {
  if (res instanceof http.ServerResponse) {
    if (!res.headersSent) {
      res.writeHead(502, { "content-type": "text/html; charset=utf-8" });
      res.end(page502(`The service did not answer: ${err.message}`, table, port));
    } else res.destroy();
  } else {
    res.destroy(); // a websocket's socket
  }
});

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const r = resolveHost(req.headers.host, current());
  if ("target" in r) {
    proxy.web(req, res, { target: `http://127.0.0.1:${r.target.port}` });
    return;
  }
  const why =
    r.miss === "ambiguous"
      ? `${req.headers.host} is served by several envs: use ${r.candidates!.join(" or ")}`
      : `No route for ${req.headers.host ?? "(no Host header)"}.`;
  res.writeHead(502, { "content-type": "text/html; charset=utf-8" });
  res.end(page502(why, table, port));
}

const servers: http.Server[] = [];
for (const host of ["127.0.0.1", "::1"]) {
  const server = http.createServer(handle);
  server.keepAliveTimeout = 65_000;
  server.on("upgrade", (req: http.IncomingMessage, socket, head: Buffer) => {
    const r = resolveHost(req.headers.host, current());
    if (!("target" in r)) {
      socket.end("HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    proxy.ws(req, socket, head, { target: `ws://127.0.0.1:${r.target.port}` });
  });
  server.on("error", (err: NodeJS.ErrnoException) => {
    // No IPv6 loopback here: IPv4 serves alone. The IPv4 port taken: nothing to serve.
    if (host === "::1") return;
    process.stderr.write(`envctl proxy: cannot listen on ${host}:${port}: ${err.message}\n`);
    process.exit(3);
  });
  server.listen(port, host);
  servers.push(server);
}

setInterval(() => {
  current();
  if (table.some((t) => t.routes.length > 0)) emptySince = undefined;
  else if (emptySince === undefined) emptySince = Date.now();
  else if (Date.now() - emptySince > GRACE_MS) process.exit(0);
}, 250);

const stop = (): void => {
  for (const s of servers) s.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
