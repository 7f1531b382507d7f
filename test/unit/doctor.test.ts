/**
 * `envctl doctor`'s checks with simulated tools: a recording command runner, a fake Docker API,
 * and a temp toolchain dir of small scripts (run for real) standing in for pulumi and its plugins.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { doctor } from "../../cli/commands/doctor";
import {
  checkBaseImage,
  checkDocker,
  checkGit,
  checkPulumi,
  checkTemporal,
  checkZellij,
  doctorExitCode,
  parseSearchAttributes,
  runCommand,
  sameAttributeType,
  type Check,
  type DockerApi,
  type RunResult,
  type Runner,
} from "../../lib/doctor/checks";
import { resolveHome } from "../../lib/core/home";
import type { TemporalSpec } from "../../lib/spec/model";
import { capture, scratchDirs } from "../support/env";

const temp = scratchDirs();

/**
 * A runner answering `file args...` from `answers`; anything else behaves like a program that
 * does not exist. Every call is recorded.
 */
function fakeRun(answers: Record<string, Partial<RunResult>>): Runner & { calls: string[] } {
  const calls: string[] = [];
  const run = async (file: string, args: string[]): Promise<RunResult> => {
    const key = [file, ...args].join(" ");
    calls.push(key);
    const a = answers[key];
    if (!a) return { code: null, stdout: "", stderr: "", notFound: true };
    return { code: 0, stdout: "", stderr: "", notFound: false, ...a };
  };
  return Object.assign(run, { calls });
}

const fakeDocker = (o: { down?: boolean; images?: string[] } = {}): DockerApi => ({
  where: "/var/run/docker.sock",
  ping: async () => {
    if (o.down) {
      throw Object.assign(new Error("connect ECONNREFUSED /var/run/docker.sock"), {
        code: "ECONNREFUSED",
      });
    }
    return "OK";
  },
  version: async () => ({ Version: "27.5.1" }),
  hasImage: async (ref) => (o.images ?? []).includes(ref),
});

const TEMPORAL: TemporalSpec = {
  address: "localhost:7233",
  namespaces: [],
  searchAttributes: { workspaceId: "Keyword", conversationId: "Keyword", createdAt: "Datetime" },
};

/** What `temporal operator search-attribute list` prints (CLI 1.x text table). */
const LIST_TEXT = `
           Name          |   Type
  BatcherNamespace       | Keyword
  WorkflowId             | Keyword
  StartTime              | Datetime
  workspaceId            | Keyword
  createdAt              | Int
`;

describe("search attribute parsing", () => {
  it("reads the text table without its header", () => {
    const attrs = parseSearchAttributes(LIST_TEXT);
    assert.equal(attrs.get("workspaceId"), "Keyword");
    assert.equal(attrs.get("StartTime"), "Datetime");
    assert.equal(attrs.has("Name"), false, "the header is not an attribute");
    assert.equal(attrs.size, 5);
  });

  it("reads the space-separated table of newer CLIs and the -o json document", () => {
    const spaced = parseSearchAttributes(
      "  Name              Type\n  WorkflowId        Keyword\n  conversationId    KeywordList\n",
    );
    assert.deepEqual(
      [...spaced],
      [
        ["WorkflowId", "Keyword"],
        ["conversationId", "KeywordList"],
      ],
    );
    const json = parseSearchAttributes(
      JSON.stringify({
        systemAttributes: { WorkflowId: "INDEXED_VALUE_TYPE_KEYWORD" },
        customAttributes: { workspaceId: "INDEXED_VALUE_TYPE_KEYWORD", n: "Int" },
        storageSchema: {},
      }),
    );
    assert.deepEqual(
      [...json],
      [
        ["WorkflowId", "INDEXED_VALUE_TYPE_KEYWORD"],
        ["workspaceId", "INDEXED_VALUE_TYPE_KEYWORD"],
        ["n", "Int"],
      ],
    );
  });

  it("compares types across the CLI's spellings", () => {
    assert.ok(sameAttributeType("INDEXED_VALUE_TYPE_KEYWORD_LIST", "KeywordList"));
    assert.ok(sameAttributeType("IndexedValueTypeDatetime", "Datetime"));
    assert.ok(sameAttributeType("keyword", "Keyword"));
    assert.ok(!sameAttributeType("Keyword", "KeywordList"));
    assert.ok(!sameAttributeType("Text", "Keyword"));
  });
});

describe("Temporal checks", () => {
  it("a missing temporal CLI is one failed row with the fix, and nothing else is asked", async () => {
    const run = fakeRun({});
    const checks = await checkTemporal(run, TEMPORAL);
    assert.equal(checks.length, 1);
    assert.equal(checks[0]!.name, "temporal CLI");
    assert.equal(checks[0]!.ok, false);
    assert.equal(checks[0]!.required, true);
    assert.match(checks[0]!.fix!, /install the Temporal CLI/);
    assert.deepEqual(run.calls, ["temporal --version"]);
    assert.equal(doctorExitCode(checks), 1);
  });

  it("an unreachable server fails with how to start it; search attributes are not listed", async () => {
    const run = fakeRun({
      "temporal --version": { stdout: "temporal version 1.1.2 (Server 1.25.1, UI 2.31.2)\n" },
      "temporal operator cluster health --address localhost:7233": {
        code: 1,
        stderr: "Error: failed reaching server: connection refused\n",
      },
    });
    const checks = await checkTemporal(run, TEMPORAL);
    assert.deepEqual(
      checks.map((c) => [c.name, c.ok, c.detail]),
      [
        ["temporal CLI", true, "1.1.2"],
        [
          "temporal server",
          false,
          "not reachable at localhost:7233: Error: failed reaching server: connection refused",
        ],
      ],
    );
    assert.match(checks[1]!.fix!, /temporal server start-dev/);
    assert.ok(!run.calls.some((c) => c.includes("search-attribute")));
  });

  it("each wanted search attribute: present, missing (with the create line), or of another type", async () => {
    const run = fakeRun({
      "temporal --version": { stdout: "temporal version 1.1.2\n" },
      "temporal operator cluster health --address localhost:7233": { stdout: "SERVING\n" },
      "temporal operator search-attribute list --address localhost:7233": { stdout: LIST_TEXT },
    });
    const checks = await checkTemporal(run, TEMPORAL);
    const rows = Object.fromEntries(checks.map((c) => [c.name, c]));
    assert.equal(rows["temporal server"]!.detail, "SERVING at localhost:7233");
    assert.deepEqual(rows["search attribute workspaceId"], {
      name: "search attribute workspaceId",
      ok: true,
      required: true,
      detail: "Keyword",
    });
    assert.equal(rows["search attribute conversationId"]!.ok, false);
    assert.equal(rows["search attribute conversationId"]!.detail, "missing (Keyword)");
    assert.equal(
      rows["search attribute conversationId"]!.fix,
      "temporal operator search-attribute create --name conversationId --type Keyword --address localhost:7233",
    );
    assert.equal(rows["search attribute createdAt"]!.ok, false);
    assert.equal(rows["search attribute createdAt"]!.detail, "is Int, the spec wants Datetime");
    assert.match(
      rows["search attribute createdAt"]!.fix!,
      /search-attribute remove --name createdAt/,
    );
    assert.equal(doctorExitCode(checks), 1);
  });

  it("all attributes present passes", async () => {
    const run = fakeRun({
      "temporal --version": { stdout: "temporal version 1.1.2\n" },
      "temporal operator cluster health --address dev:7233": { stdout: "SERVING\n" },
      "temporal operator search-attribute list --address dev:7233": {
        stdout: LIST_TEXT.replace("createdAt              | Int", "createdAt | Datetime").concat(
          "  conversationId | Keyword\n",
        ),
      },
    });
    const checks = await checkTemporal(run, { ...TEMPORAL, address: "dev:7233" });
    assert.equal(checks.length, 5);
    assert.equal(doctorExitCode(checks), 0);
  });
});

describe("git, Docker, base image, zellij", () => {
  it("git: the version when present, the fix when missing", async () => {
    const ok = await checkGit(fakeRun({ "git --version": { stdout: "git version 2.39.5\n" } }));
    assert.deepEqual(ok, { name: "git", ok: true, required: true, detail: "2.39.5" });
    const missing = await checkGit(fakeRun({}));
    assert.equal(missing.ok, false);
    assert.equal(missing.detail, "not found on PATH");
    assert.match(missing.fix!, /install git/);
  });

  it("Docker: the server version, or how to start the daemon", async () => {
    assert.deepEqual(await checkDocker(fakeDocker()), {
      name: "docker engine",
      ok: true,
      required: true,
      detail: "27.5.1 (/var/run/docker.sock)",
    });
    const down = await checkDocker(fakeDocker({ down: true }));
    assert.equal(down.ok, false);
    assert.match(
      down.detail,
      /^not reachable at \/var\/run\/docker\.sock: cannot reach the Docker engine/,
    );
    assert.match(down.fix!, /dockerd & \/ systemctl start docker/);
  });

  it("the base image and zellij are optional: failing them does not fail doctor", async () => {
    const image = await checkBaseImage(fakeDocker(), true);
    assert.equal(image.ok, false);
    assert.equal(image.required, false);
    assert.equal(image.detail, "not present");
    const present = await checkBaseImage(fakeDocker({ images: ["debian:bookworm"] }), true);
    assert.equal(present.ok, true);
    const unchecked = await checkBaseImage(fakeDocker({ images: ["debian:bookworm"] }), false);
    assert.equal(unchecked.ok, false, "not claimed present when Docker is down");
    const zellij = await checkZellij(fakeRun({}));
    assert.deepEqual(zellij, {
      name: "zellij",
      ok: false,
      required: false,
      detail: "not installed",
      fix: "install from https://zellij.dev; envctl open falls back to a shell",
    });
    const zellijOk = await checkZellij(
      fakeRun({ "zellij --version": { stdout: "zellij 0.41.2\n" } }),
    );
    assert.equal(zellijOk.detail, "0.41.2");
    const required: Check = { name: "git", ok: true, required: true, detail: "" };
    assert.equal(doctorExitCode([required, image, zellij]), 0);
    assert.equal(doctorExitCode([{ ...required, ok: false }, image]), 1);
  });
});

describe("Pulumi toolchain", () => {
  /** A toolchain bin dir with a `pulumi` printing `version` and the given plugins. */
  function toolchain(version: string, plugins: string[]): string {
    const bin = temp("toolchain");
    fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho "${version}"\n`, { mode: 0o755 });
    for (const p of plugins) fs.writeFileSync(path.join(bin, p), "#!/bin/sh\n", { mode: 0o755 });
    return bin;
  }
  const seams = (toolchainBin: string) => ({
    run: runCommand,
    pathVar: "",
    toolchainBin,
    pulumiVersion: "3.248.0",
    docker: fakeDocker(),
  });
  const PLUGINS = ["pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"];

  it("runs the CLI envctl uses and finds both plugins", async () => {
    const bin = toolchain("v3.248.0", PLUGINS);
    const checks = await checkPulumi(seams(bin));
    assert.deepEqual(
      checks.map((c) => [c.name, c.ok, c.detail]),
      [
        ["pulumi CLI", true, `v3.248.0 (${path.join(bin, "pulumi")})`],
        ["nodejs language host", true, path.join(bin, "pulumi-language-nodejs")],
        ["dynamic provider launcher", true, path.join(bin, "pulumi-resource-pulumi-nodejs")],
      ],
    );
  });

  it("a missing launcher, an empty version, a missing CLI: failed rows with the setup fix", async () => {
    const noLauncher = await checkPulumi(seams(toolchain("v3.248.0", PLUGINS.slice(0, 1))));
    assert.equal(noLauncher[2]!.ok, false);
    assert.equal(noLauncher[2]!.fix, "bash scripts/setup toolchain");
    const unversioned = await checkPulumi(seams(toolchain("", PLUGINS)));
    assert.equal(unversioned[0]!.ok, false);
    assert.match(unversioned[0]!.detail, /reports no version/);
    const none = await checkPulumi(seams(temp("empty-toolchain")));
    assert.deepEqual(
      none.map((c) => c.ok),
      [false, false, false],
    );
    assert.match(none[0]!.detail, /^not installed/);
  });

  it("another CLI version still works but says what envctl pins", async () => {
    const checks = await checkPulumi(seams(toolchain("v3.250.1", PLUGINS)));
    assert.equal(checks[0]!.ok, true);
    assert.match(checks[0]!.detail, /^v3\.250\.1 .*; envctl pins v3\.248\.0$/);
  });
});

describe("envctl doctor (command)", () => {
  function machine(): Parameters<typeof doctor>[0]["checks"] {
    const bin = temp("toolchain");
    fs.writeFileSync(path.join(bin, "pulumi"), "#!/bin/sh\necho v3.248.0\n", { mode: 0o755 });
    for (const p of ["pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
      fs.writeFileSync(path.join(bin, p), "#!/bin/sh\n", { mode: 0o755 });
    }
    const answers: Record<string, Partial<RunResult>> = {
      "git --version": { stdout: "git version 2.39.5\n" },
    };
    const real = fakeRun(answers);
    const run: Runner = (file, args, opts) =>
      file.startsWith(bin) ? runCommand(file, args, opts) : real(file, args, opts);
    return { run, pathVar: "", toolchainBin: bin, docker: fakeDocker() };
  }

  it("all required tools present: exit 0, and the human report says so", async () => {
    const c = capture();
    const code = await doctor({
      cwd: temp("cwd"),
      color: false,
      home: resolveHome({ ENVCTL_HOME: temp("h") }),
      checks: machine(),
      ...c.seams,
    });
    assert.equal(code, 0, c.out.join("\n"));
    const out = c.out.join("\n");
    assert.match(out, /^✓ git +2\.39\.5$/m);
    assert.match(out, /^✓ docker engine +27\.5\.1/m);
    assert.match(out, /^- zellij +not installed \(optional\)$/m);
    assert.match(out, /fix: install from https:\/\/zellij\.dev/);
    assert.match(out, /^all required checks pass$/m);
  });

  it("colours the marks only on a terminal or when forced, whatever CI says", async () => {
    const saved = {
      CI: process.env.CI,
      FORCE_COLOR: process.env.FORCE_COLOR,
      NO_COLOR: process.env.NO_COLOR,
    };
    const run = async (color?: boolean): Promise<string> => {
      const c = capture();
      await doctor({ cwd: temp("cwd"), color, checks: machine(), ...c.seams });
      return c.out.join("\n");
    };
    try {
      process.env.CI = "1";
      delete process.env.FORCE_COLOR;
      delete process.env.NO_COLOR;
      if (process.stdout.isTTY !== true) {
        assert.doesNotMatch(await run(), /\x1b\[/, "CI=1 with stdout not a terminal: plain");
      }
      process.env.FORCE_COLOR = "1";
      assert.match(await run(), /\x1b\[32m✓\x1b\[39m git/, "FORCE_COLOR=1: green marks");
      assert.doesNotMatch(await run(false), /\x1b\[/, "an explicit false wins");
      assert.match(await run(true), /\x1b\[31m✗|\x1b\[32m✓/);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it("a spec with temporal and no temporal CLI: exit 1, the row and its fix in --json", async () => {
    const cwd = temp("cwd");
    fs.writeFileSync(
      path.join(cwd, "envctl.yaml"),
      "services:\n  db: { image: x }\ntemporal:\n  search_attributes: { workspaceId: Keyword }\n",
    );
    const c = capture();
    const code = await doctor({
      json: true,
      cwd,
      home: resolveHome({ ENVCTL_HOME: temp("h") }),
      checks: machine(),
      ...c.seams,
    });
    assert.equal(code, 1);
    const doc = JSON.parse(c.out.join("\n")) as { kind: string; ok: boolean; checks: Check[] };
    assert.equal(doc.kind, "doctor");
    assert.equal(doc.ok, false);
    const row = doc.checks.find((k) => k.name === "temporal CLI");
    assert.ok(row, "the temporal row is there because ./envctl.yaml has temporal");
    assert.equal(row.ok, false);
    assert.equal(row.required, true);
    assert.match(row.fix!, /install the Temporal CLI/);
  });

  it("no spec: no Temporal rows; an invalid -f spec: a failed spec row", async () => {
    const c = capture();
    await doctor({ json: true, cwd: temp("cwd"), checks: machine(), ...c.seams });
    const doc = JSON.parse(c.out.join("\n")) as { checks: Check[] };
    assert.ok(!doc.checks.some((k) => k.name.startsWith("temporal")));
    const bad = capture();
    const code = await doctor({
      file: ["missing.yaml"],
      color: false,
      cwd: temp("cwd"),
      checks: machine(),
      ...bad.seams,
    });
    assert.equal(code, 1);
    assert.match(bad.out.join("\n"), /^✗ spec +cannot read spec .*missing\.yaml: no such file/m);
    assert.match(
      bad.out.join("\n"),
      /fix: see every problem with: envctl validate -f missing\.yaml/,
    );
  });
});
