/**
 * Docker's API straight over the local engine's unix socket with node's http client, for the
 * verbs that need only a call or two: the container list (list, status, the lifecycle verbs'
 * reality check) and cool's early removals. Loading dockerode and docker-modem costs ~0.1 s of
 * every such command. Any other endpoint (tcp://, ssh://, TLS settings) goes through dockerode
 * (lib/docker/client.ts).
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
  Names?: string[];
  State: string;
  Status: string;
  Labels: Record<string, string>;
}

/**
 * One API call. Resolves with the status and parsed body of a 2xx answer, or of an answer whose
 * status is in `accept`; rejects as dockerode does otherwise: a connection failure with node's
 * error (code, syscall), an engine error with `statusCode` and the engine's `json` body.
 */
function call(
  socketPath: string,
  method: string,
  path: string,
  timeoutMs: number,
  accept: number[] = [],
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => {
        let json: unknown;
        try {
          json = body ? JSON.parse(body) : undefined;
        } catch {
          json = undefined;
        }
        const status = res.statusCode ?? 0;
        if ((status >= 200 && status < 300) || accept.includes(status)) {
          return resolve({ status, json });
        }
        const message = (json as { message?: unknown } | undefined)?.message;
        reject(
          Object.assign(
            new Error(`(HTTP code ${status}) ${typeof message === "string" ? message : body}`),
            { statusCode: status, json },
          ),
        );
      });
      res.on("error", reject);
    });
    req.on("timeout", () =>
      req.destroy(new Error(`no answer from the Docker engine at ${socketPath}`)),
    );
    req.on("error", reject);
    req.end();
  });
}

/** Every container (running or not) matching `filters` (Docker's filter JSON). */
export async function listContainers(
  socketPath: string,
  filters: Record<string, string[]>,
  timeoutMs = 30_000,
): Promise<ContainerSummary[]> {
  const query = `all=1&filters=${encodeURIComponent(JSON.stringify(filters))}`;
  const { status, json } = await call(socketPath, "GET", `/containers/json?${query}`, timeoutMs);
  if (Array.isArray(json)) return json as ContainerSummary[];
  throw Object.assign(new Error(`(HTTP code ${status}) not a container list`), {
    statusCode: status,
    json,
  });
}

/**
 * Removes container `name` and its anonymous volumes, as lib/docker/container.ts
 * removeContainer does for a service with no pre_stop hooks: with `stop`, stopped first with
 * the signal and timeout it was created with; otherwise killed at once. Gone already is fine;
 * `"in progress"` says another caller is removing it.
 */
export async function removeContainerNow(
  socketPath: string,
  name: string,
  stop: boolean,
  timeoutMs = 120_000,
): Promise<"removed" | "gone" | "in progress"> {
  const at = `/containers/${encodeURIComponent(name)}`;
  // 304: already stopped; 404: gone.
  if (stop) await call(socketPath, "POST", `${at}/stop`, timeoutMs, [304, 404]);
  const { status, json } = await call(
    socketPath,
    "DELETE",
    `${at}?force=1&v=1`,
    timeoutMs,
    [404, 409],
  );
  if (status === 404) return "gone";
  if (status !== 409) return "removed";
  const message = (json as { message?: unknown } | undefined)?.message;
  if (typeof message === "string" && /already in progress/i.test(message)) return "in progress";
  throw Object.assign(new Error(`(HTTP code 409) ${String(message)}`), { statusCode: 409, json });
}
