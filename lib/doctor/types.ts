/** What every doctor check shares: the report row and the command runner it is given. */
import { execFile } from "node:child_process";

/** One row of the report. */
export interface Check {
  name: string;
  ok: boolean;
  /** A failed required check makes doctor exit 1; optional ones only inform. */
  required: boolean;
  /** The version or place found, or what is wrong. */
  detail: string;
  /** How to fix a failed check. */
  fix?: string;
}

export interface RunResult {
  /** Exit status; null when the program could not run or was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The program does not exist (ENOENT). */
  notFound: boolean;
}

/** Runs a program without a shell and collects its output; never rejects. */
export type Runner = (
  file: string,
  args: string[],
  opts?: { timeoutMs?: number; env?: Record<string, string> },
) => Promise<RunResult>;

export const runCommand: Runner = (file, args, opts = {}) =>
  new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        timeout: opts.timeoutMs ?? 15_000,
        env: { ...process.env, ...opts.env },
        maxBuffer: 16 * 1024 * 1024,
        encoding: "utf8",
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr, notFound: false });
        const code = (err as { code?: unknown }).code;
        resolve({
          code: typeof code === "number" ? code : null,
          stdout,
          stderr: stderr || err.message,
          notFound: code === "ENOENT",
        });
      },
    );
  });

export const firstLine = (text: string): string => text.trim().split("\n")[0]?.trim() ?? "";
