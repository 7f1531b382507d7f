/** The Docker client shared by lib/docker*, and the error wording every operation uses. */
import Dockerode from "dockerode";

export interface Labels {
  [k: string]: string;
}

/** A failed Docker operation, worded for users: what failed and the engine's reason. */
export class DockerError extends Error {
  override readonly name: string = "DockerError";
  constructor(
    message: string,
    /** HTTP status from the engine, when there was one. */
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

let client: Dockerode | undefined;

/** The shared client: DOCKER_HOST when set (docker-modem parses it), else the local socket. */
export function docker(): Dockerode {
  client ??= process.env.DOCKER_HOST
    ? new Dockerode()
    : new Dockerode({ socketPath: "/var/run/docker.sock" });
  return client;
}

export interface JsonStreamEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: { ID?: string };
}

/** Reads a newline-delimited JSON progress stream (build, pull) to its end. */
export async function followJsonStream(
  stream: NodeJS.ReadableStream,
  onEvent: (event: JsonStreamEvent) => void,
): Promise<void> {
  let pending = "";
  const handle = (line: string): void => {
    if (!line.trim()) return;
    let event: JsonStreamEvent;
    try {
      event = JSON.parse(line) as JsonStreamEvent;
    } catch {
      event = { stream: `${line}\n` }; // not JSON: pass it through as output
    }
    onEvent(event);
  };
  for await (const chunk of stream) {
    pending += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    lines.forEach(handle);
  }
  handle(pending);
}

/** The engine's HTTP status carried by a dockerode error, if any. */
export function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** The engine's own words for a failure, without dockerode's "(HTTP code 404) …" wrapping. */
export function dockerReason(err: unknown): string {
  if (err instanceof DockerError) return err.message;
  const e = err as {
    json?: unknown;
    reason?: unknown;
    code?: unknown;
    message?: unknown;
  } | null;
  const json = e?.json as { message?: unknown } | string | null | undefined;
  if (json && typeof json === "object" && typeof json.message === "string") return json.message;
  if (typeof json === "string" && json.trim()) return json.trim();
  if (e?.code === "ENOENT" || e?.code === "ECONNREFUSED" || e?.code === "EACCES") {
    return `cannot reach the Docker engine (${String(e.message)}); is it running?`;
  }
  // Streamed calls (pull, build) carry no parsed body; unwrap dockerode's message instead.
  if (err instanceof Error) return err.message.replace(/^\(HTTP code \d+\) [^-]*- /, "").trim();
  return String(err);
}

/** `${what}: ${reason}` as a DockerError, keeping the engine's status code. */
export function dockerFailure(what: string, err: unknown): DockerError {
  if (err instanceof DockerError && err.message.startsWith(what)) return err;
  return new DockerError(`${what}: ${dockerReason(err)}`, statusOf(err));
}
