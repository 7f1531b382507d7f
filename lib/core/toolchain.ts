import * as fs from "node:fs";
import * as path from "node:path";

/** The envctl installation (holds Pulumi.yaml, package.json and the compiled program). */
export function projectRoot(): string {
  // dist/lib/core/toolchain.js -> ../../.. ; lib/core/toolchain.ts (tsx) -> ../..
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (
      fs.existsSync(path.join(dir, "Pulumi.yaml")) &&
      fs.existsSync(path.join(dir, "package.json"))
    ) {
      return dir;
    }
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the envctl project root above ${__dirname}`);
}

/** Project-local toolchain dir made by scripts/setup: bin/ holds pulumi and its plugins. */
export function toolchainRoot(root = projectRoot()): string {
  return path.join(root, ".toolchain");
}

/** Engine settings every pulumi process envctl starts gets: offline, quiet, deterministic. */
export function engineEnv(root = projectRoot()): Record<string, string> {
  const bin = path.join(toolchainRoot(root), "bin");
  const preload = preloadOption(root);
  return {
    PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    ENVCTL_ROOT: root,
    // The program's node defers the two modules @pulumi/pulumi loads and it rarely uses, as the
    // provider's does (lib/providers/lazy-deps.ts): about 0.3 s of every update.
    ...(preload
      ? { NODE_OPTIONS: [process.env.NODE_OPTIONS, preload].filter(Boolean).join(" ") }
      : {}),
  };
}

/** `--require "<root>/dist/lib/providers/lazy-deps.js"` when it is built (not from sources). */
function preloadOption(root: string): string | undefined {
  const file = path.join(root, "dist", "lib", "providers", "lazy-deps.js");
  return fs.existsSync(file) ? `--require ${JSON.stringify(file)}` : undefined;
}

/**
 * envctl's own variables for the engine and its handlers: the install, the force switch, the
 * project, and the operation tag the engine's processes are found and stopped by.
 */
const ENGINE_ONLY = new Set(["ENVCTL_ROOT", "ENVCTL_FORCE", "ENVCTL_PROJECT", "ENVCTL_OPERATION"]);

/**
 * The environment of a process started for the user (a daemon, an init step, a host-side health
 * command): envctl's engine settings removed (PULUMI_*, ENGINE_ONLY, the toolchain on PATH), so the backend, the passphrase file and pulumi itself are not handed to user code.
 */
export function userEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  const root = env.ENVCTL_ROOT;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || k.startsWith("PULUMI_")) continue;
    if (ENGINE_ONLY.has(k)) continue;
    out[k] = v;
  }
  if (root && out.NODE_OPTIONS) {
    const preload = preloadOption(root);
    const rest = preload ? out.NODE_OPTIONS.split(preload).join("").trim() : out.NODE_OPTIONS;
    if (rest) out.NODE_OPTIONS = rest;
    else delete out.NODE_OPTIONS;
  }
  if (root && out.PATH) {
    const bin = path.join(toolchainRoot(root), "bin");
    out.PATH = out.PATH.split(path.delimiter)
      .filter((d) => d !== bin)
      .join(path.delimiter);
  }
  return out;
}

/** Where `cmd` resolves on `envPath` (a PATH string), like `command -v`; empty entries are skipped. */
export function findOnPath(cmd: string, envPath = process.env.PATH ?? ""): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, cmd);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}
