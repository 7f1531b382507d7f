/** Runs a command inside a running container (`docker exec`), with its output and exit code. */
import { DockerError, docker, type DockerEndpoint } from "./client";
import { demuxLogs } from "./objects";

export interface ExecResult {
  code: number;
  /** stdout and stderr, interleaved as the command wrote them. */
  output: string;
}

export interface ExecOptions {
  host?: DockerEndpoint;
  /** Killed (exit code 124, as `timeout` reports it) after this long. @default 120000 */
  timeoutMs?: number;
  user?: string;
  signal?: AbortSignal;
}

/** `docker exec NAME CMD…`: the command's exit code and output; a missing container throws. */
export async function execIn(
  container: string,
  cmd: string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const c = docker(opts.host).getContainer(container);
  let exec;
  try {
    exec = await c.exec({
      Cmd: cmd,
      AttachStdout: true,
      AttachStderr: true,
      ...(opts.user ? { User: opts.user } : {}),
    });
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404) throw new DockerError(`container ${container} does not exist`);
    if (status === 409) throw new DockerError(`container ${container} is not running`);
    throw err;
  }
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const finished = await new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const onAbort = (): void => resolve(false);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    stream.on("data", (b: Buffer) => chunks.push(b));
    stream.on("end", () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      resolve(true);
    });
    stream.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  const output = demuxLogs(Buffer.concat(chunks));
  if (!finished) {
    stream.destroy();
    return { code: 124, output: `${output}\n(stopped after ${Math.round(timeoutMs / 1000)}s)` };
  }
  const { ExitCode } = await exec.inspect();
  return { code: ExitCode ?? 0, output };
}

export interface CaptureResult {
  code: number;
  /** stdout as bytes (a pg_dump archive is binary). */
  stdout: Buffer;
  stderr: string;
}

/**
 * `docker exec -i NAME CMD…` with stdout kept apart as bytes and `input` written to stdin (then
 * closed): for dumps and restores, which stream binary data both ways.
 */
export async function execCapture(
  container: string,
  cmd: string[],
  opts: ExecOptions & { input?: Buffer } = {},
): Promise<CaptureResult> {
  const client = docker(opts.host);
  const exec = await client.getContainer(container).exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: opts.input !== undefined,
    ...(opts.user ? { User: opts.user } : {}),
  });
  const stream = await exec.start({ hijack: true, stdin: opts.input !== undefined });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const { PassThrough } = await import("node:stream");
  const stdout = new PassThrough().on("data", (b: Buffer) => out.push(b));
  const stderr = new PassThrough().on("data", (b: Buffer) => err.push(b));
  client.modem.demuxStream(stream, stdout, stderr);
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  const ended = new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    stream.on("end", () => (clearTimeout(timer), resolve(true)));
    stream.on("error", (e) => (clearTimeout(timer), reject(e)));
  });
  if (opts.input !== undefined) {
    // Half-close after the input so the command sees EOF on stdin.
    stream.write(opts.input);
    (stream as unknown as { end(): void }).end();
  }
  if (!(await ended)) {
    stream.destroy();
    return {
      code: 124,
      stdout: Buffer.concat(out),
      stderr: `${Buffer.concat(err).toString()}\n(stopped after ${Math.round(timeoutMs / 1000)}s)`,
    };
  }
  const { ExitCode } = await exec.inspect();
  return {
    code: ExitCode ?? 0,
    stdout: Buffer.concat(out),
    stderr: Buffer.concat(err).toString("utf8"),
  };
}
