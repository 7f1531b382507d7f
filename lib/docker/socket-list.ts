/**
 * `GET /containers/json` straight over the local engine's unix socket with node's http client,
 * for the verbs that only need the list (list, status, the lifecycle verbs' reality check):
 * loading dockerode and docker-modem costs ~0.1 s of every such command. Any other endpoint
 * (tcp://, ssh://, TLS settings) goes through dockerode (lib/docker/client.ts).
 */
import * as http from "node:http";

const LOCAL_SOCKET = "/var/run/docker.sock";

/** The socket of the local engine when it is reached over one, as docker-modem would pick it. */
export function localSocket(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const host = env.DOCKER_HOST;
  if (!host) return LOCAL_SOCKET;
  if (!host.startsWith("unix://")) return undefined;
  return host.slice("unix://".length) || LOCAL_SOCKET;
}

/** The fields of Docker's container summary envctl reads. */
export interface ContainerSummary {
  Id: string;
  State: string;
  Status: string;
  Labels: Record<string, string>;
}

/**
 * Every container (running or not) matching `filters` (Docker's filter JSON). Rejects as
 * dockerode does: a connection failure with node's error (code, syscall), an engine error with
 * `statusCode` and the engine's `json` body.
 */
export function listContainers(
  socketPath: string,
  filters: Record<string, string[]>,
  timeoutMs = 30_000,
): Promise<ContainerSummary[]> {
  const query = `all=1&filters=${encodeURIComponent(JSON.stringify(filters))}`;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, path: `/containers/json?${query}`, method: "GET", timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300 && Array.isArray(json)) {
            return resolve(json as ContainerSummary[]);
          }
          const message = (json as { message?: unknown } | undefined)?.message;
          reject(
            Object.assign(
              new Error(`(HTTP code ${status}) ${typeof message === "string" ? message : body}`),
              {
                statusCode: status,
                json,
              },
            ),
          );
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(new Error(`no answer from the Docker engine at ${socketPath}`)),
    );
    req.on("error", reject);
    req.end();
  });
}
