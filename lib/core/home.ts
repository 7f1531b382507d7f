import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Where envctl keeps everything that is not the user's code. */
export interface Home {
  root: string;
  stateDir: string;
  catalogFile: string;
  envsDir: string;
  worktreesDir: string;
  /** This home's Pulumi project: Pulumi.yaml and the stacks' settings files (lib/engine/project.ts). */
  projectDir: string;
}

export function resolveHome(env: NodeJS.ProcessEnv = process.env): Home {
  const root = path.resolve(env.ENVCTL_HOME ?? path.join(os.homedir(), ".envctl"));
  return {
    root,
    stateDir: path.join(root, "state"),
    catalogFile: path.join(root, "catalog.db"),
    envsDir: path.join(root, "envs"),
    worktreesDir: path.join(root, "worktrees"),
    projectDir: path.join(root, "project"),
  };
}

/**
 * Makes `dir` (and its parents) readable by this user only: ENVCTL_HOME holds stack state,
 * catalog rows and logs with the env's variables in clear. An existing directory this user owns
 * is tightened to 0700.
 */
export function privateDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(dir);
  if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) fs.chmodSync(dir, 0o700);
  return dir;
}

export function envDir(home: Home, name: string): string {
  return path.join(home.envsDir, name);
}

/** The Pulumi backend: PULUMI_BACKEND_URL when set (s3://, Pulumi Cloud), else a file backend in the home. */
export function backendUrl(home: Home, env: NodeJS.ProcessEnv = process.env): string {
  if (env.PULUMI_BACKEND_URL) return env.PULUMI_BACKEND_URL;
  privateDir(home.root);
  privateDir(home.stateDir);
  return `file://${home.stateDir}`;
}

/**
 * Secrets provider settings. A passphrase from the environment wins; otherwise one is generated
 * once into `<home>/passphrase` (mode 0600) and passed to Pulumi by file, never on a command line.
 */
export function passphraseEnv(
  home: Home,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) {
    return { PULUMI_CONFIG_PASSPHRASE: env.PULUMI_CONFIG_PASSPHRASE };
  }
  if (env.PULUMI_CONFIG_PASSPHRASE_FILE) {
    return { PULUMI_CONFIG_PASSPHRASE_FILE: env.PULUMI_CONFIG_PASSPHRASE_FILE };
  }
  const file = path.join(home.root, "passphrase");
  if (!fs.existsSync(file)) {
    privateDir(home.root);
    const secret = crypto.randomBytes(32).toString("base64url");
    try {
      fs.writeFileSync(file, secret + "\n", { mode: 0o600, flag: "wx" });
    } catch (err) {
      // Another envctl process created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return { PULUMI_CONFIG_PASSPHRASE_FILE: file };
}
