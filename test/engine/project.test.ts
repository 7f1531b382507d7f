/**
 * Each ENVCTL_HOME's own Pulumi project directory (lib/engine/project.ts): what it holds, that
 * envctl never writes stack settings into its installation, that two homes using the same env
 * name do not clash (real pulumi, file backends), and how settings files an earlier envctl left
 * beside the installation's Pulumi.yaml are adopted.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import * as YAML from "yaml";
import { UserError } from "../../lib/core/errors";
import { resolveHome } from "../../lib/core/home";
import { projectRoot } from "../../lib/core/toolchain";
import { openEngine, stackExists } from "../../lib/engine/automation";
import { ensureProject, projectYaml } from "../../lib/engine/project";
import { initStack } from "../../lib/engine/update";
import { envName, tempDir, tempHome } from "../support/env";

const scratch: string[] = [];
after(() => {
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});
const home = (): ReturnType<typeof tempHome> => {
  const h = tempHome();
  scratch.push(h.root);
  return h;
};

/** A stand-in installation: Pulumi.yaml, package.json, dist/ and node_modules/. */
function fakeInstall(): string {
  const dir = tempDir("install");
  scratch.push(dir);
  fs.copyFileSync(path.join(projectRoot(), "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  fs.writeFileSync(path.join(dir, "package.json"), "{}\n");
  fs.mkdirSync(path.join(dir, "dist", "stacks"), { recursive: true });
  fs.mkdirSync(path.join(dir, "node_modules", "@pulumi", "pulumi"), { recursive: true });
  return dir;
}

describe("the home's project directory", () => {
  it("holds the install's Pulumi.yaml and links to its program, deps and package.json", () => {
    const h = home();
    const install = fakeInstall();
    const dir = ensureProject(h, install);
    assert.equal(dir, path.join(h.root, "project"));
    const doc = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as {
      name: string;
      main: string;
    };
    assert.equal(doc.name, "envctl");
    assert.equal(doc.main, "dist/stacks/index.js");
    for (const entry of ["dist", "node_modules", "package.json"]) {
      assert.equal(fs.readlinkSync(path.join(dir, entry)), path.join(install, entry));
    }
    // A moved install is followed: the links are repaired, not left dangling.
    const moved = fakeInstall();
    ensureProject(h, moved);
    assert.equal(fs.readlinkSync(path.join(dir, "dist")), path.join(moved, "dist"));
  });

  it("a real directory where a link belongs, or a missing program, is a clear error", () => {
    const h = home();
    const install = fakeInstall();
    const dir = ensureProject(h, install);
    fs.rmSync(path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, "node_modules")); // say, an `npm install` run there by hand
    assert.throws(
      () => ensureProject(h, install),
      (err: unknown) =>
        err instanceof UserError &&
        /node_modules is not the link envctl keeps there/.test(err.message),
    );
    const broken = fakeInstall();
    fs.rmSync(path.join(broken, "dist"), { recursive: true });
    assert.throws(
      () => ensureProject(home(), broken),
      (err: unknown) => err instanceof UserError && /installation is incomplete/.test(err.message),
    );
  });

  it("a hoisted install links the node_modules @pulumi/pulumi resolves from", () => {
    const install = fakeInstall();
    fs.rmSync(path.join(install, "node_modules"), { recursive: true });
    const dir = ensureProject(home(), install);
    const deps = fs.readlinkSync(path.join(dir, "node_modules"));
    assert.ok(fs.existsSync(path.join(deps, "@pulumi", "pulumi", "package.json")), deps);
  });

  it("refuses a project directory that is the installation itself", () => {
    const install = fakeInstall();
    const h = { ...home(), projectDir: install };
    assert.throws(() => ensureProject(h, install), /is the envctl installation itself/);
  });

  it("refuses an install whose Pulumi.yaml is another project", () => {
    const install = fakeInstall();
    fs.writeFileSync(path.join(install, "Pulumi.yaml"), "name: other\nruntime: nodejs\n");
    assert.throws(() => projectYaml(install), /names project other, not envctl/);
  });

  it("adopts legacy settings files only for stacks this home owns, and keeps the originals", () => {
    const h = home();
    const install = fakeInstall();
    fs.writeFileSync(path.join(install, "Pulumi.mine.yaml"), "encryptionsalt: v1:mine\n");
    fs.writeFileSync(path.join(install, "Pulumi.theirs.yaml"), "encryptionsalt: v1:theirs\n");
    const dir = ensureProject(h, install, (stack) => stack === "mine");
    assert.equal(
      fs.readFileSync(path.join(dir, "Pulumi.mine.yaml"), "utf8"),
      "encryptionsalt: v1:mine\n",
    );
    assert.equal(fs.statSync(path.join(dir, "Pulumi.mine.yaml")).mode & 0o777, 0o600);
    assert.ok(!fs.existsSync(path.join(dir, "Pulumi.theirs.yaml")), "adopted another home's file");
    assert.ok(fs.existsSync(path.join(install, "Pulumi.mine.yaml")), "original removed");
    // The home's own file wins over a legacy one from then on.
    fs.writeFileSync(path.join(dir, "Pulumi.mine.yaml"), "encryptionsalt: v1:new\n");
    ensureProject(h, install, () => true);
    assert.equal(
      fs.readFileSync(path.join(dir, "Pulumi.mine.yaml"), "utf8"),
      "encryptionsalt: v1:new\n",
    );
  });
});

describe("two homes, one env name (real pulumi)", { timeout: 5 * 60_000 }, () => {
  it("each home gets its own stack and settings file; nothing is written into the install", async () => {
    const name = envName("twin");
    const a = home();
    const b = resolveHome({ ENVCTL_HOME: tempDir("home") });
    scratch.push(b.root);
    const before = fs.readdirSync(projectRoot()).filter((f) => f.startsWith("Pulumi."));
    const [ea, eb] = [await openEngine(a), await openEngine(b)];
    await initStack(ea, name);
    await initStack(eb, name); // with settings beside Pulumi.yaml this met A's salt: refused
    assert.equal(await stackExists(ea, name), true);
    assert.equal(await stackExists(eb, name), true);
    const salt = (dir: string): string =>
      /^encryptionsalt: (.+)$/m.exec(
        fs.readFileSync(path.join(dir, `Pulumi.${name}.yaml`), "utf8"),
      )?.[1] ?? "";
    assert.ok(salt(a.projectDir) && salt(b.projectDir));
    assert.notEqual(salt(a.projectDir), salt(b.projectDir), "the two homes share a settings file");
    assert.deepEqual(
      fs.readdirSync(projectRoot()).filter((f) => f.startsWith("Pulumi.")),
      before,
      "settings written into the install",
    );
  });
});
