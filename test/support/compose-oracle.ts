/**
 * Docker Compose as the oracle of envctl's compose import: what `docker compose config --format
 * json` prints for a project, turned into what envctl's model must hold for it, written here
 * from the compose spec and Docker's defaults (not from lib/spec/compose.ts), and compared field
 * by field. Every service key Compose prints is either compared or must be a warning; a key this
 * file does not know fails the comparison, so a new Compose output cannot go unchecked.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { findCompose } from "../../lib/spec/compose/reference";
import type { ContainerService, EnvSpec, SpecIssue } from "../../lib/spec/model";
import { expectService, type Expected } from "./compose-oracle-service";

type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj =>
  v !== null && typeof v === "object" && !Array.isArray(v);

export interface Project {
  services: Record<string, Obj>;
  volumes?: Record<string, Obj>;
  networks?: Record<string, Obj>;
  secrets?: Record<string, Obj>;
  configs?: Record<string, Obj>;
  [key: string]: unknown;
}

export type OracleResult = { project: Project } | { error: string };

export const COMPOSE_BIN = findCompose();

/** `config --format json` on `files`, run as envctl runs it (project dir: the first file's). */
export function runCompose(
  files: string[],
  profiles: string[],
  env: NodeJS.ProcessEnv,
): OracleResult {
  const r = spawnSync(
    COMPOSE_BIN!,
    [
      ...files.flatMap((f) => ["-f", f]),
      ...["--project-directory", path.dirname(files[0]!), "--project-name", "envctl"],
      ...profiles.flatMap((p) => ["--profile", p]),
      ...["config", "--format", "json"],
    ],
    { env, encoding: "utf8", timeout: 60_000 },
  );
  if (r.status !== 0) return { error: r.stderr };
  return { project: literal(JSON.parse(r.stdout) as Project) };
}

/** Compose prints a literal `$` as `$$` (its output reads back as compose input). */
function literal<T>(v: T): T {
  if (typeof v === "string") return v.replaceAll("$$", "$") as T;
  if (Array.isArray(v)) return v.map(literal) as T;
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, literal(x)])) as T;
  return v;
}

const MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1e3,
  m: 6e4,
  h: 3.6e6,
};
/** A Go duration ("1m30s", "1.5s") in milliseconds. */
export function goMs(d: string): number {
  let total = 0;
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
    total += Number(m[1]) * MS[m[2]!]!;
  return Math.round(total);
}

/** What the oracle learned beyond the model: warnings it requires, ports to check env-wide. */
export interface Findings {
  /** Dot-paths a warning must name. */
  warnings: Set<string>;
}

/**
 * Asserts that `spec` (envctl's) holds what Compose printed in `project`; `env` is the
 * environment both read. Throws an AssertionError naming the first field that differs.
 */
export function compareProject(
  project: Project,
  spec: EnvSpec,
  warnings: SpecIssue[],
  env: NodeJS.ProcessEnv,
  files: string[],
): Findings {
  const found: Findings = { warnings: new Set() };
  for (const key of Object.keys(project)) {
    if (
      !["name", "services", "volumes", "networks", "secrets", "configs"].includes(key) &&
      !key.startsWith("x-")
    ) {
      assert.fail(`Compose prints the top-level "${key}", which the oracle does not compare`);
    }
  }
  // Compose prints services sorted; envctl keeps them in the order the files write them.
  const written = writtenOrder(files).filter((n) => n in project.services);
  const names = [...new Set([...written, ...Object.keys(project.services)])];
  assert.deepEqual(
    spec.services.map((s) => s.name),
    names,
    "services, in the order the files write them",
  );
  const byName = new Map(spec.services.map((s) => [s.name, s]));
  const expected = new Map<string, Expected>();
  for (const name of names) {
    const s = byName.get(name)!;
    assert.equal(s.type, "container", `services.${name}.type`);
    const e = expectService(name, project.services[name]!, project, env);
    for (const w of e.warnings) found.warnings.add(w);
    expected.set(name, e);
    compareFields(name, e, s);
  }
  // Offsets are handed out in the order the services are written (envctl's service order).
  comparePorts(
    spec.services.map((s) => s.name),
    expected,
    byName as Map<string, ContainerService>,
    found,
  );
  compareVolumeDecls(project, spec, found);
  compareNetworks(project, spec, found);
  const said = new Set(warnings.map((w) => w.path));
  for (const w of found.warnings)
    assert.ok(said.has(w), `a warning names ${w}; warnings: ${[...said].join(", ")}`);
  return found;
}

/** Service names as the files write them: the given files', then those of the files they include. */
function writtenOrder(files: string[]): string[] {
  const names: string[] = [];
  const includes: string[] = [];
  for (const file of files) {
    const doc = parse(fs.readFileSync(file, "utf8"), { merge: true }) as unknown;
    if (!isObj(doc)) continue;
    if (isObj(doc.services)) names.push(...Object.keys(doc.services));
    for (const inc of Array.isArray(doc.include) ? (doc.include as unknown[]) : []) {
      const paths = typeof inc === "string" ? [inc] : isObj(inc) ? [inc.path].flat() : [];
      for (const p of paths)
        if (typeof p === "string") includes.push(path.resolve(path.dirname(file), p));
    }
  }
  return [...names, ...(includes.length ? writtenOrder(includes) : [])];
}

const MODEL_KEYS = new Set([
  "name",
  "type",
  "env",
  "ports",
  "health",
  "dependsOn",
  "conditions",
  "cold",
  "image",
  "build",
  "command",
  "entrypoint",
  "volumes",
  "ulimits",
  "replicas",
  "labels",
  "files",
  "docker",
]);

function compareFields(name: string, e: Expected, s: ContainerService): void {
  const at = (f: string): string =>
    `services.${name}.${f} (Compose: ${JSON.stringify(e.compose[f] ?? null)})`;
  for (const k of Object.keys(s))
    assert.ok(MODEL_KEYS.has(k), `services.${name} has "${k}", which the oracle does not know`);
  const anonymous = new Set(e.anonymous);
  const volumes = s.volumes.map((v, i) => {
    if (!anonymous.has(i)) return v;
    // A volume Compose leaves unnamed gets an env-kept name: any, as long as it is its own.
    assert.equal(v.kind, "volume", `services.${name}.volumes[${i}] is a volume`);
    assert.ok(
      v.source && !e.declaredVolumes.has(v.source),
      `services.${name}.volumes[${i}] has its own name, got ${v.source}`,
    );
    assert.equal(
      s.volumes.filter((x) => x.source === v.source).length,
      1,
      `services.${name}.volumes[${i}]: a name of its own`,
    );
    return { ...v, source: "(anonymous)" };
  });
  assert.deepEqual(s.image, e.model.image, at("image"));
  assert.deepEqual(s.build, e.model.build, at("build"));
  assert.deepEqual(s.command, e.model.command, at("command"));
  assert.deepEqual(s.entrypoint, e.model.entrypoint, at("entrypoint"));
  assert.deepEqual(s.env, e.model.env, at("environment"));
  assert.deepEqual(volumes, e.model.volumes, at("volumes"));
  const health =
    s.health && e.model.health && s.health.test?.[0] === "CMD"
      ? { ...s.health, command: "(derived)" }
      : s.health;
  assert.deepEqual(health, e.model.health, at("healthcheck"));
  assert.deepEqual([...s.dependsOn].sort(), [...e.model.dependsOn].sort(), at("depends_on"));
  assert.deepEqual(s.conditions, e.model.conditions, at("depends_on"));
  assert.deepEqual(s.replicas, e.model.replicas, at("deploy"));
  assert.deepEqual(s.labels, e.model.labels, at("labels"));
  assert.deepEqual(s.files, e.model.files, `services.${name}.secrets/configs given by value`);
  assert.deepEqual(s.ulimits, e.model.ulimits, at("ulimits"));
  assert.deepEqual(s.docker, e.model.docker, `services.${name}: the runtime options (docker:)`);
  assert.equal(s.cold, false, `services.${name}.cold`);
  assert.deepEqual(
    s.ports.map((p) => ({
      container: p.container,
      protocol: p.protocol,
      ...(p.hostIp !== undefined ? { hostIp: p.hostIp } : {}),
    })),
    e.ports.map((p) => ({
      container: p.container,
      protocol: p.protocol,
      ...(p.hostIp !== undefined ? { hostIp: p.hostIp } : {}),
    })),
    at("ports"),
  );
}

/**
 * Offsets: a published port's is published % 1000 (or, taken, the next free one, with a
 * warning); then each port without one takes the next free offset from container % 1000. No two
 * ports of the env share an offset and protocol.
 */
function comparePorts(
  names: string[],
  expected: Map<string, Expected>,
  byName: Map<string, ContainerService>,
  found: Findings,
): void {
  const taken = new Map<string, string>();
  const next = (from: number, protocol: string): number => {
    for (let i = 0; i < 1000; i++)
      if (!taken.has(`${(from + i) % 1000}/${protocol}`)) return (from + i) % 1000;
    throw new Error("no free offset");
  };
  const take = (offset: number, protocol: string, at: string): void => {
    assert.ok(
      !taken.has(`${offset}/${protocol}`),
      `${at}: offset ${offset}/${protocol} is ${taken.get(`${offset}/${protocol}`)}'s too`,
    );
    taken.set(`${offset}/${protocol}`, at);
  };
  for (const published of [true, false]) {
    for (const name of names) {
      const ports = byName.get(name)!.ports;
      expected.get(name)!.ports.forEach((p, i) => {
        if ((p.published !== undefined) !== published) return;
        const at = `services.${name}.ports[${i}]`;
        const want =
          p.published !== undefined ? p.published % 1000 : next(p.container % 1000, p.protocol);
        const offset = ports[i]!.offset;
        if (p.published !== undefined && taken.has(`${want}/${p.protocol}`)) {
          assert.equal(offset, next(want, p.protocol), `${at}: the next free offset after ${want}`);
          found.warnings.add(at);
        } else {
          assert.equal(
            offset,
            want,
            `${at}: offset (published ${p.published ?? "none"}, container ${p.container})`,
          );
        }
        take(offset, p.protocol, at);
      });
    }
  }
}

function compareVolumeDecls(project: Project, spec: EnvSpec, found: Findings): void {
  const want: Record<string, Obj> = {};
  for (const [name, d] of Object.entries(project.volumes ?? {})) {
    const v: Obj = {};
    if (d.external) Object.assign(v, { external: true, name: d.name ?? name });
    else if (d.name !== undefined && d.name !== `envctl_${name}`)
      found.warnings.add(`volumes.${name}.name`);
    if (d.driver !== undefined && d.driver !== "local") v.driver = d.driver;
    if (isObj(d.driver_opts) && Object.keys(d.driver_opts).length) v.driverOpts = d.driver_opts;
    if (isObj(d.labels) && Object.keys(d.labels).length) v.labels = d.labels;
    for (const k of Object.keys(d)) {
      if (!["name", "external", "driver", "driver_opts", "labels"].includes(k))
        found.warnings.add(`volumes.${name}.${k}`);
    }
    if (Object.keys(v).length) want[name] = v;
  }
  assert.deepEqual(
    spec.volumes,
    Object.keys(want).length ? want : undefined,
    "volumes (top level)",
  );
}

function compareNetworks(project: Project, spec: EnvSpec, found: Findings): void {
  const nets = Object.entries(project.networks ?? {}).filter(([n]) => n !== "default");
  assert.deepEqual(
    spec.networks,
    nets.length ? nets.map(([n]) => n) : undefined,
    "networks (top level)",
  );
  for (const [n, d] of Object.entries(project.networks ?? {})) {
    for (const [k, v] of Object.entries(d)) {
      const fine =
        (k === "name" && (v === `envctl_${n}` || d.external === true)) ||
        (k === "ipam" && isObj(v) && Object.keys(v).length === 0) ||
        (k === "driver" && v === "bridge");
      if (!fine) found.warnings.add(`networks.${n}.${k}`);
    }
  }
}
