/**
 * Where the Pulumi engine finds a resource provider plugin: on PATH (an ambient plugin, used
 * whatever its version) or in PULUMI_HOME's plugin cache at the version the program asks for or
 * a newer one of the same major version. Read from the filesystem alone, so `up`, `preview` and
 * `doctor` can check before anything starts.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Whether `file` is there and may be run. */
function runnable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

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
    if (runnable(file)) return file;
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
    if (runnable(file)) return file;
  }
  return undefined;
}
