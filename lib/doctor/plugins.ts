/**
 * Where the Pulumi engine finds a resource provider plugin: on PATH (an ambient plugin, used
 * whatever its version) or in PULUMI_HOME's plugin cache at the version the program asks for or
 * a newer one of the same major version. Read from the filesystem alone, so `up`, `preview` and
 * `doctor` can check before anything starts.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { UserError } from "../core/errors";
import { isExecutableFile } from "../spec/commands";
import type { Check } from "./types";

/** `7.48.0` -> [7, 48, 0]; anything else sorts first. */
function version(v: string): number[] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

function atLeast(v: number[], min: number[]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i]!;
  return true;
}

/** The plugin `pulumi-resource-<name>` at `minVersion` or a newer one of its major version. */
export function findPlugin(
  name: string,
  minVersion: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const bin = `pulumi-resource-${name}`;
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, bin);
    if (isExecutableFile(file)) return file;
  }
  const home = env.PULUMI_HOME ?? path.join(env.HOME ?? os.homedir(), ".pulumi");
  const plugins = path.join(home, "plugins");
  const min = version(minVersion);
  const prefix = `resource-${name}-v${min[0]}.`;
  const dirs = fs.existsSync(plugins)
    ? fs
        .readdirSync(plugins)
        .map((d) => ({ d, v: version(d.slice(`resource-${name}-v`.length)) }))
        .filter(({ d, v }) => d.startsWith(prefix) && atLeast(v, min))
    : [];
  for (const { d } of dirs) {
    const file = path.join(plugins, d, bin);
    if (isExecutableFile(file)) return file;
  }
  return undefined;
}

/** The doctor row of a provider plugin the stack needs: where it is, or how to install it. */
export function pluginCheck(
  name: string,
  minVersion: string,
  fix: string,
  env: NodeJS.ProcessEnv = process.env,
): Check {
  const row = `${name} provider plugin`;
  const found = findPlugin(name, minVersion, env);
  if (found) return { name: row, ok: true, required: true, detail: found };
  const major = minVersion.split(".")[0];
  return {
    name: row,
    ok: false,
    required: true,
    detail: `pulumi-resource-${name} (v${minVersion} or a newer ${major}.x) is not installed: not on PATH, not in ${path.join(env.PULUMI_HOME ?? "~/.pulumi", "plugins")}`,
    fix,
  };
}

/** A failed check as one sentence with its fix; undefined when it passed. */
export function problemOf(c: Check): string | undefined {
  return c.ok ? undefined : `${c.name}: ${c.detail}; ${c.fix ?? ""}`;
}

/**
 * Before anything is made: refuses (exit 1, with the fix) a verb whose stack needs a plugin
 * this machine lacks (`problem`), and warns when an advisory check (credentials, a token the
 * stack's config may hold instead) did not pass.
 */
export function refuseUnready(
  what: string,
  verb: string,
  problem: string | undefined,
  advisory: Check,
  checks: string,
  warn: (line: string) => void,
): void {
  if (problem) {
    throw new UserError(`cannot ${verb} ${what}: ${problem}`, 1, [
      `nothing was created; \`envctl doctor -f SPEC\` shows the ${checks} checks`,
    ]);
  }
  if (!advisory.ok) warn(`warning: ${advisory.name}: ${advisory.detail} (${advisory.fix ?? ""})`);
}
