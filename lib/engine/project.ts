/**
 * Each ENVCTL_HOME has its own Pulumi project directory (`$ENVCTL_HOME/project`): Pulumi.yaml,
 * and the stacks' settings files `Pulumi.<env>.yaml` (encryption salt + the env's config).
 * Keeping them out of the envctl installation means two homes never share a settings file and a
 * read-only or global install is never written to. The program itself stays in the install:
 * `dist` and `node_modules` are symlinks to it, so `pulumi preview --stack NAME` run here by hand
 * runs exactly the program envctl runs.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { UserError } from "../core/errors";
import { privateDir, type Home } from "../core/home";

/** The project every env's stack belongs to (Pulumi.yaml's `name`). */
export const PROJECT = "envctl";

/**
 * The install's entries the project directory links to: the program, its dependencies (where
 * @pulumi/pulumi resolves from, so a hoisted install works too) and package.json.
 */
function linkTargets(installRoot: string): Record<string, string> {
  const own = path.join(installRoot, "node_modules");
  let deps = own;
  if (!fs.existsSync(path.join(own, "@pulumi", "pulumi"))) {
    try {
      // <node_modules>/@pulumi/pulumi/package.json -> <node_modules>
      deps = path.resolve(require.resolve("@pulumi/pulumi/package.json"), "..", "..", "..");
    } catch {
      deps = own;
    }
  }
  return {
    dist: path.join(installRoot, "dist"),
    node_modules: deps,
    "package.json": path.join(installRoot, "package.json"),
  };
}

const unique = (p: string): string => `${p}.${process.pid}.${crypto.randomUUID()}.tmp`;

/** Pulumi.yaml of a home's project: the install's, with `main` inside the linked `dist`. */
export function projectYaml(installRoot: string): string {
  const install = YAML.parse(fs.readFileSync(path.join(installRoot, "Pulumi.yaml"), "utf8")) as {
    name?: string;
    runtime?: unknown;
    description?: string;
    main?: string;
  };
  if (install.name !== PROJECT) {
    throw new Error(`${installRoot}/Pulumi.yaml names project ${install.name}, not ${PROJECT}`);
  }
  return YAML.stringify({
    name: PROJECT,
    runtime: install.runtime ?? "nodejs",
    description: install.description ?? "envctl environments",
    main: install.main ?? "dist/stacks/index.js",
  });
}

/** Points `at` at `target`; the rename replaces an older link atomically. */
function link(target: string, at: string): void {
  if (!fs.existsSync(target)) {
    throw new UserError(`the envctl installation is incomplete: ${target} does not exist`, 1, [
      "run `npm run setup` (or `npm run build`) in the envctl installation",
    ]);
  }
  let current: string | undefined;
  try {
    current = fs.readlinkSync(at);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EINVAL") {
      // A real file or directory (e.g. an `npm install` run by hand in the project dir).
      throw new UserError(`${at} is not the link envctl keeps there`, 1, [
        `move it away (envctl links it to ${target}), then run envctl again`,
      ]);
    }
  }
  if (current === target) return;
  const tmp = unique(at);
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, at);
}

function writeIfChanged(file: string, text: string): void {
  if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === text) return;
  const tmp = unique(file);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/**
 * Makes (or repairs) the home's project directory for the install at `installRoot`, and moves
 * in the settings files an earlier envctl wrote beside the install's Pulumi.yaml for stacks that
 * `owns` says belong to this home. Returns the directory.
 */
export function ensureProject(
  home: Home,
  installRoot: string,
  owns: (stack: string) => boolean = () => false,
): string {
  const dir = home.projectDir;
  privateDir(home.root);
  privateDir(dir);
  if (fs.realpathSync(dir) === fs.realpathSync(installRoot)) {
    throw new UserError(`ENVCTL_HOME's project directory ${dir} is the envctl installation itself`);
  }
  writeIfChanged(path.join(dir, "Pulumi.yaml"), projectYaml(installRoot));
  for (const [entry, target] of Object.entries(linkTargets(installRoot))) {
    link(target, path.join(dir, entry));
  }
  adoptLegacySettings(dir, installRoot, owns);
  return dir;
}

/** `Pulumi.<stack>.yaml` settings files in `dir` (not Pulumi.yaml itself). */
export function settingsFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^Pulumi\..+\.ya?ml$/.test(f) && f !== "Pulumi.yaml" && f !== "Pulumi.yml");
}

/**
 * Settings files of envctl before per-home projects lived in the install. One whose stack is
 * this home's and that the project lacks is copied in (it holds the encryption salt the
 * stack's secrets were made with). The original stays: another home may own the same name.
 */
function adoptLegacySettings(
  dir: string,
  installRoot: string,
  owns: (stack: string) => boolean,
): void {
  for (const file of settingsFiles(installRoot)) {
    const stack = file.replace(/^Pulumi\./, "").replace(/\.ya?ml$/, "");
    const into = path.join(dir, `Pulumi.${stack}.yaml`);
    if (fs.existsSync(into) || !owns(stack)) continue;
    const tmp = unique(into);
    fs.copyFileSync(path.join(installRoot, file), tmp);
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, into); // a concurrent envctl sees the whole file or none
  }
}
