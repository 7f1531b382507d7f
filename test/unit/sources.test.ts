/**
 * Where a spec comes from (lib/spec/sources.ts, lib/spec/format.ts): compose files are told from
 * envctl.yaml by what they say, names only breaking a tie, and `--format` overrides the guess.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../../lib/core/errors";
import { composeName, specFormat } from "../../lib/spec/format";
import { loadSpec, SpecError } from "../../lib/spec/sources";
import { scratchDirs } from "../support/env";

const temp = scratchDirs();

function dirWith(files: Record<string, string>): string {
  const dir = temp("sources");
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

const COMPOSE = [
  "services:",
  "  a: { image: x, ports: ['7233:7233'], environment: { A: 1 } }",
  "  b: { image: x, ports: ['8233:8233'] }",
].join("\n");
const ENVCTL =
  "base: main\nservices:\n  web: { cmd: ./run, health: { tcp: 3000 }, ports: [3000] }\n";

describe("specFormat", () => {
  it("reads compose and envctl.yaml by their keys, whatever the file is called", () => {
    const dir = dirWith({ "stack.yml": COMPOSE, "docker-compose.yml": ENVCTL });
    assert.equal(specFormat(path.join(dir, "stack.yml")), "compose");
    assert.equal(specFormat(path.join(dir, "docker-compose.yml")), "envctl");
  });

  it("compose-only keys at the top, in services and in ports each count", () => {
    const dir = dirWith({
      "a.yml": "volumes: { data: {} }\nservices:\n  db: { image: x }\n",
      "b.yml": "services:\n  db: { image: x, restart: always }\n",
      "c.yml": "services:\n  db: { image: x, ports: [{ target: 80, published: 8080 }] }\n",
      "d.yml": "services:\n  db: { image: x, ports: [{ container: 80, offset: 0 }] }\n",
      "e.yml": "x-common: &c { image: x }\nservices:\n  db: *c\n",
    });
    const f = (n: string): string => specFormat(path.join(dir, n));
    assert.deepEqual(["a.yml", "b.yml", "c.yml", "d.yml", "e.yml"].map(f), [
      "compose",
      "compose",
      "compose",
      "envctl",
      "compose",
    ]);
  });

  it("a tie (nothing either format alone has) goes by the name, then the fallback", () => {
    const plain = "services:\n  db: { image: x, ports: [5432] }\n";
    const dir = dirWith({ "compose.override.yaml": plain, "stack.yml": plain, "bad.yml": ": [" });
    assert.equal(specFormat(path.join(dir, "compose.override.yaml")), "compose");
    assert.equal(specFormat(path.join(dir, "stack.yml")), "envctl");
    assert.equal(specFormat(path.join(dir, "stack.yml"), "compose"), "compose");
    assert.equal(
      specFormat(path.join(dir, "bad.yml")),
      "envctl",
      "unparsable: the loader says why",
    );
    assert.equal(specFormat(path.join(dir, "missing.yml")), "envctl");
  });

  it("composeName knows compose's own file names", () => {
    assert.equal(composeName("/x/docker-compose.yml"), true);
    assert.equal(composeName("/x/compose.override.yaml"), true);
    assert.equal(composeName("/x/app.compose.yml"), true);
    assert.equal(composeName("/x/envctl.yaml"), false);
    assert.equal(composeName("/x/stack.yml"), false);
  });
});

describe("loadSpec", () => {
  it("a compose file under any name is imported as compose: its problems are compose's", () => {
    // (what Compose refuses: a host port past 65535, found in the file by its value)
    const dir = dirWith({ "stack.yml": COMPOSE.replace("'8233:8233'", "'70000:8233'") });
    const err = (() => {
      try {
        loadSpec({ file: "stack.yml" }, dir);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof SpecError, String(err));
    assert.deepEqual(
      err.issues.map((i) => i.path),
      ["services.b.ports[0]"],
    );
    assert.equal(err.issues[0]!.message, "invalid hostPort: 70000");
  });

  it("--format overrides the guess; a bad value is bad input (exit 2)", () => {
    const dir = dirWith({ "stack.yml": COMPOSE, "envctl.yaml": ENVCTL });
    assert.throws(
      () => loadSpec({ file: "stack.yml", format: "envctl" }, dir),
      (e: unknown) =>
        e instanceof SpecError && e.issues.some((i) => i.path === "services.a.ports[0]"),
    );
    assert.throws(
      () => loadSpec({ file: "envctl.yaml", format: "compose" }, dir),
      (e: unknown) => e instanceof SpecError && e.issues.some((i) => i.file === "envctl.yaml"),
    );
    assert.throws(
      () => loadSpec({ file: "stack.yml", format: "yaml" }, dir),
      (e: unknown) =>
        e instanceof UserError &&
        e.exitCode === 2 &&
        e.message === '--format must be "compose", "envctl" or "a3s", got "yaml"',
    );
  });

  it("several -f files are compose files; one that reads as envctl.yaml is refused", () => {
    const dir = dirWith({
      "base.yml": "services:\n  db: { image: x, ports: ['5432'] }\n",
      "local.yml": "services:\n  db: { image: y }\n",
      "envctl.yaml": ENVCTL,
    });
    const { spec } = loadSpec({ file: ["base.yml", "local.yml"] }, dir);
    assert.equal(spec.services[0]!.type === "container" && spec.services[0]!.image, "y");
    assert.throws(
      () => loadSpec({ file: ["base.yml", "envctl.yaml"] }, dir),
      /envctl\.yaml reads as an envctl\.yaml/,
    );
  });
});
