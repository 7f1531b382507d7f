/**
 * What the parts of the compose import share: the file being read (`Ctx`), how issues are
 * reported against it (each names the file and dot-path), and `Layer`, one file's contribution
 * to a service before the files are merged.
 */
import * as os from "node:os";
import * as path from "node:path";
import type { SpecIssue } from "../model";
import { dotPath } from "../../core/dot-path";

export interface ComposeImport {
  /** Services in envctl.yaml form (the input shape of `services` in envctl.yaml), file order. */
  services: Record<string, Record<string, unknown>>;
  /** Problems that stop the import, each with its file (base name) and dot-path. */
  errors: SpecIssue[];
  /** Keys envctl ignores on purpose (container_name, restart, networks, ...), each by name. */
  warnings: SpecIssue[];
}

export const NOT_SUPPORTED = "not supported by envctl";

export type Path = PropertyKey[];
export type Obj = Record<string, unknown>;

export interface PortOut {
  container: number;
  offset: number;
  protocol: "tcp" | "udp";
}

/** Where an issue is: the file and the dot-path in it. */
export type Where = Pick<SpecIssue, "file" | "path" | "line">;

export interface VolumeOut {
  /** Undefined for an anonymous volume, named after merging. */
  source?: string;
  target: string;
  read_only: boolean;
  named: boolean;
  at: Where;
}

export interface HealthLayer {
  /** The shell command; `null` for `["NONE"]`. */
  test?: string | null;
  disable?: boolean;
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  at: Where;
}

/** One file's contribution to a service, before merging. */
export interface Layer {
  image?: { value: string; at: Where };
  build?: { context?: string; dockerfile?: string; args: Record<string, string> };
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  envFile: Record<string, string>;
  ports: PortOut[];
  volumes: VolumeOut[];
  ulimits: Obj;
  health?: HealthLayer;
  depends?: { list: boolean; deps: Record<string, { condition?: string }> };
}

/** One compose file being read: where it is and where its issues go. */
export interface Ctx {
  base: string;
  /** Project directory: relative paths in every file resolve against it. */
  dir: string;
  out: ComposeImport;
  /** The project's variables: the shell's environment over the project directory's `.env`. */
  vars: Record<string, string | undefined>;
}

export const where = (ctx: Ctx, at: Path): Where => ({ file: ctx.base, path: dotPath(at) });
export const fail = (ctx: Ctx, at: Path, message: string): void => {
  ctx.out.errors.push({ ...where(ctx, at), message });
};
export const warn = (ctx: Ctx, at: Path, message: string): void => {
  ctx.out.warnings.push({ ...where(ctx, at), message });
};
export const isObj = (v: unknown): v is Obj =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Absolute host path: `~` is the home directory, relative paths start at the project dir. */
export function hostPath(dir: string, p: string): string {
  if (p === "~" || p.startsWith("~/")) return path.join(os.homedir(), p.slice(1));
  return path.isAbsolute(p) ? p : path.resolve(dir, p);
}
