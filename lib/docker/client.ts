/**
 * A Docker client per engine endpoint, and the error wording every operation uses. dockerode
 * (with docker-modem and ssh2, ~0.1 s) loads on the first client: a provider process that only
 * removes containers over the local socket (lib/docker/socket.ts) never loads it.
 */
import { sshOptions } from "./ssh-auth";
import type Dockerode from "dockerode";

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

/**
 * Where a Docker engine answers: `unix:///var/run/docker.sock`, `tcp://HOST:PORT` or
 * `ssh://USER@HOST[:PORT]` (docker's SSH transport). Unset means the local engine: DOCKER_HOST
 * when set, else the local socket. Resources carry the endpoint as an input, so one program can
 * drive engines on several hosts.
 */
export type DockerEndpoint = string | undefined;

const LOCAL_SOCKET = "/var/run/docker.sock";
const clients = new Map<string, Dockerode>();

/**
 * The engine an endpoint names, without how this machine logs in to it: an `ssh://` endpoint's
 * `identity` (a key file of this machine) is not part of which engine it is.
 */
export function engineOf(endpoint: string): string {
  if (!endpoint.startsWith("ssh://")) return endpoint;
  try {
    const url = new URL(endpoint);
    url.searchParams.delete("identity");
    return url.toString().replace(/\?$/, "");
  } catch {
    return endpoint;
  }
}

/** Dockerode's options for an endpoint (exported for tests). */
export function clientOptions(endpoint: DockerEndpoint): Dockerode.DockerOptions {
  // The local engine named by DOCKER_HOST: docker-modem reads it with its companions
  // (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, npipe://, ...), as the docker CLI does.
  const fromEnv = endpoint === undefined ? process.env.DOCKER_HOST : undefined;
  const target = endpoint ?? (fromEnv || `unix://${LOCAL_SOCKET}`);
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new DockerError(
      `Docker endpoint ${JSON.stringify(target)} is not a URL (unix://, tcp:// or ssh://)`,
    );
  }
  if (fromEnv && ["unix:", "tcp:", "http:", "https:", "ssh:", "npipe:"].includes(url.protocol)) {
    return {};
  }
  switch (url.protocol) {
    case "unix:":
      return { socketPath: url.pathname || LOCAL_SOCKET };
    case "tcp:":
    case "http:":
      return { protocol: "http", host: url.hostname, port: Number(url.port || 2375) };
    case "https:":
      return { protocol: "https", host: url.hostname, port: Number(url.port || 2376) };
    case "ssh:":
      return {
        protocol: "ssh",
        host: url.hostname,
        port: Number(url.port || 22),
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        sshOptions: sshOptions(url),
      };
    default:
      throw new DockerError(
        `Docker endpoint ${JSON.stringify(target)}: ${url.protocol} is not one of unix:, tcp:, ssh:`,
      );
  }
}

/** The client for one Docker engine, made once per endpoint and process. */
export function docker(endpoint?: DockerEndpoint): Dockerode {
  const key = endpoint ?? `local:${process.env.DOCKER_HOST ?? ""}`;
  let client = clients.get(key);
  if (!client) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Client = require("dockerode") as typeof Dockerode;
    client = new Client(clientOptions(endpoint));
    clients.set(key, client);
  }
  return client;
}

/** The address a published port of this engine is reached at from here. */
export function publishedAddress(endpoint: DockerEndpoint): string {
  const target = endpoint ?? process.env.DOCKER_HOST;
  if (!target || target.startsWith("unix:")) return "127.0.0.1";
  try {
    return new URL(target).hostname || "127.0.0.1";
  } catch {
    return "127.0.0.1";
  }
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

/** Errors of connecting to the engine: no socket, nobody listening, no permission, no route. */
const CONNECT_CODES = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "EACCES",
  "EPERM",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * Whether envctl could not connect to the engine at all (as opposed to the engine answering
 * with an error): a connect/getaddrinfo failure with one of CONNECT_CODES and no HTTP status.
 * An ENOENT from reading a file (a build context, say) is not one.
 */
export function isConnectionFailure(err: unknown): boolean {
  const e = err as { code?: unknown; syscall?: unknown } | null;
  if (statusOf(err) !== undefined || typeof e?.code !== "string") return false;
  const connecting =
    e.syscall === undefined || e.syscall === "connect" || e.syscall === "getaddrinfo";
  return connecting && CONNECT_CODES.has(e.code);
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
  if (isConnectionFailure(err)) {
    const denied = e?.code === "EACCES" || e?.code === "EPERM";
    return `cannot reach the Docker engine (${String(e?.message)}); ${denied ? "may this user use its socket (the docker group)?" : "is it running?"}`;
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
