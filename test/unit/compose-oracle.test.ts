/**
 * Docker Compose is the oracle of envctl's compose import: for every project under
 * test/fixtures/compose-projects, `docker compose config --format json` (run here, directly)
 * and `loadComposeFiles` must agree on every field of every service (test/support/
 * compose-oracle.ts), warnings must name what envctl ignores, and what Compose refuses envctl
 * refuses with Compose's own message.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadComposeFiles, type ParseResult } from "../../lib/spec/load";
import type { EnvSpec } from "../../lib/spec/model";
import {
  CASES,
  caseFiles,
  PROJECTS_DIR,
  type ComposeCase,
} from "../fixtures/compose-projects/cases";
import {
  COMPOSE_BIN,
  compareProject,
  isObj,
  runCompose,
  type OracleResult,
} from "../support/compose-oracle";

const HOME = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-oracle-"));
after(() => fs.rmSync(HOME, { recursive: true, force: true }));

/** The environment of a case: the test's own variables only as the case sets them. */
function caseEnv(c: ComposeCase): NodeJS.ProcessEnv {
  const base = Object.entries(process.env).filter(([k]) => !/^(ENVCTL_T_|COMPOSE_)/.test(k));
  return { ...Object.fromEntries(base), ...c.env, ENVCTL_HOME: HOME };
}

/** Runs `fn` with process.env set to `env` (envctl reads process.env), then restores it. */
function withProcessEnv<T>(env: NodeJS.ProcessEnv, fn: () => T): T {
  const saved = { ...process.env };
  const set = (to: NodeJS.ProcessEnv): void => {
    for (const k of Object.keys(process.env)) if (!(k in to)) delete process.env[k];
    Object.assign(process.env, to);
  };
  set(env);
  try {
    return fn();
  } finally {
    set(saved);
  }
}

interface Outcome {
  env: NodeJS.ProcessEnv;
  oracle: OracleResult;
  envctl: ParseResult;
  /** The same load again, answered from envctl's cache of Compose's output. */
  again: ParseResult;
}

const outcomes = new Map<string, Outcome>();
function outcome(name: string): Outcome {
  const known = outcomes.get(name);
  if (known) return known;
  const c = CASES[name]!;
  const files = caseFiles(name, c);
  const env = caseEnv(c);
  const load = (): ParseResult =>
    withProcessEnv(env, () => loadComposeFiles(files, c.profiles ? { profiles: c.profiles } : {}));
  const o = {
    env,
    oracle: runCompose(files, c.profiles ?? [], env),
    envctl: load(),
    again: load(),
  };
  outcomes.set(name, o);
  return o;
}

const paths = (issues: { path: string }[]): string[] =>
  [...new Set(issues.map((i) => i.path))].sort();
const accepted = Object.entries(CASES).filter(([, c]) => !c.rejected && !c.errors);

describe(
  "Docker Compose as the oracle of the compose import",
  { skip: !COMPOSE_BIN && "Docker Compose v2 not found" },
  () => {
    test("at least 40 projects; each directory has a case and each case a directory", () => {
      const dirs = fs
        .readdirSync(PROJECTS_DIR, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort();
      assert.deepEqual(dirs, Object.keys(CASES).sort());
      assert.ok(accepted.length >= 40, `${accepted.length} projects both read`);
    });

    for (const [name, c] of Object.entries(CASES)) {
      test(name, () => {
        const { oracle, envctl, again, env } = outcome(name);
        assert.deepEqual(again, envctl, "a cached load reads the same");
        if (c.rejected) return assertRejected(name, c.rejected, oracle, envctl);
        assert.ok(
          "project" in oracle,
          `Compose accepts ${name}: ${"error" in oracle ? oracle.error : ""}`,
        );
        if (c.errors) {
          assert.deepEqual(
            paths(envctl.errors),
            paths(c.errors),
            `errors: ${JSON.stringify(envctl.errors)}`,
          );
          for (const want of c.errors) {
            const got = envctl.errors.find((i) => i.path === want.path)!;
            assert.match(got.message, want.message, want.path);
          }
          return;
        }
        assert.deepEqual(envctl.errors, [], "envctl accepts what Compose accepts");
        compareProject(oracle.project, envctl.spec!, envctl.warnings, env, caseFiles(name, c));
        assert.deepEqual(
          paths(envctl.warnings),
          [...(c.warnings ?? [])].sort(),
          `warnings: ${JSON.stringify(envctl.warnings)}`,
        );
        for (const w of envctl.warnings) assert.ok(w.message.length > 10, `${w.path} says why`);
      });
    }

    test("the comparison notices any value the mapping drops or changes", (t) => {
      let mutants = 0;
      for (const [name] of accepted) {
        const { oracle, envctl, env } = outcome(name);
        if (!("project" in oracle) || !envctl.spec) continue;
        for (const mutant of mutations(envctl.spec)) {
          mutants++;
          assert.throws(
            () =>
              compareProject(
                oracle.project,
                mutant.spec,
                envctl.warnings,
                env,
                caseFiles(name, CASES[name]!),
              ),
            Error,
            `${name}: ${mutant.what} went unnoticed`,
          );
        }
      }
      t.diagnostic(`${mutants} mutants, each noticed`);
      assert.ok(mutants > 500, `${mutants} mutants`);
    });
  },
);

/** Compose's text with the project's directory taken out, as envctl shows paths. */
function assertRejected(
  name: string,
  want: NonNullable<ComposeCase["rejected"]>,
  oracle: OracleResult,
  envctl: ParseResult,
): void {
  assert.ok("error" in oracle, `Compose refuses ${name}`);
  assert.equal(envctl.spec, undefined);
  const said = oracle.error.split(`${path.join(PROJECTS_DIR, name)}${path.sep}`).join("");
  const first = envctl.errors[0]!;
  assert.equal(first.path, want.path, `the dot-path of ${JSON.stringify(first)}`);
  assert.equal(first.file, want.file, `the file of ${JSON.stringify(first)}`);
  assert.equal(first.line, want.line, `the line of ${JSON.stringify(first)}`);
  for (const part of first.message.split("; ")) {
    assert.ok(
      said.includes(part),
      `envctl says Compose's message: ${JSON.stringify(part)} in ${JSON.stringify(said)}`,
    );
  }
  // The service is the one Compose names (`services.web.ports.0`, `services[web].x`, `service "web"`).
  const service = /^services\.([^.[]+)/.exec(want.path)?.[1];
  // (Compose names some problems only by value, `invalid hostPort: 70000`: envctl finds the field.)
  if (service && /services[.[]|service "/.test(said)) {
    assert.match(said, new RegExp(`\\b${service}\\b`), `Compose names ${service}`);
  }
}

/**
 * Copies of `spec`, each with one value of a service changed or dropped (a leaf changed, a key
 * deleted, a list's last entry removed). Values the oracle does not pin are left alone: the names
 * of anonymous volumes and the shell form of an exec health check.
 */
function* mutations(spec: EnvSpec): Generator<{ what: string; spec: EnvSpec }> {
  type Path = (string | number)[];
  const pinned = (p: Path): boolean =>
    p[0] !== "services" ||
    (p.length > 2 &&
      p[2] !== "name" &&
      !(p[2] === "health" && p[3] === "command") &&
      !(p[2] === "volumes" && p[4] === "source" && /anon/.test(String(valueAt(spec, p)))));
  const ops: { op: "change" | "delete" | "pop"; at: Path }[] = [];
  const walk = (v: unknown, p: Path): void => {
    if (v === undefined) return;
    if (Array.isArray(v)) {
      if (v.length > 0 && pinned(p)) ops.push({ op: "pop", at: p });
      v.forEach((x, i) => walk(x, [...p, i]));
    } else if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (x !== undefined && pinned([...p, k])) ops.push({ op: "delete", at: [...p, k] });
        walk(x, [...p, k]);
      }
    } else if (pinned(p)) ops.push({ op: "change", at: p });
  };
  spec.services.forEach((s, i) => walk(s, ["services", i]));
  walk({ volumes: spec.volumes, networks: spec.networks }, []);
  for (const { op, at } of ops) {
    const copy = structuredClone(spec);
    const parent = valueAt(copy, at.slice(0, -1)) as Record<string | number, unknown>;
    const key = at[at.length - 1]!;
    if (op === "pop") (parent[key] as unknown[]).pop();
    else if (op === "delete") delete parent[key];
    else {
      const v = parent[key];
      parent[key] = typeof v === "string" ? `${v}x` : typeof v === "number" ? v + 1 : !v;
    }
    yield { what: `${op} ${at.join(".")}`, spec: copy };
  }
}

function valueAt(root: unknown, p: (string | number)[]): unknown {
  let cur = root;
  for (const k of p)
    cur =
      isObj(cur) || Array.isArray(cur) ? (cur as Record<string | number, unknown>)[k] : undefined;
  return cur;
}
