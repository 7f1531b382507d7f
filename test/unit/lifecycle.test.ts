/** States, transitions and reality: which services run when, what the verbs allow, ⚠ reasons. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import {
  runningServices,
  transitionProblem,
  upstreamClosure,
  VERB_TARGET,
  type Verb,
} from "../../lib/kinds/devenv/lifecycle";
import { envReality, type ContainerMap } from "../../lib/kinds/devenv/reality";
import type { EnvState, ResolvedEnv } from "../../lib/spec/model";

const svc = (name: string, type: "container" | "process", cold = false, dependsOn: string[] = []) =>
  ({
    name,
    type,
    cold,
    dependsOn,
    env: {},
    ports: [],
    ...(type === "process" ? { cmd: "x", dir: "." } : { volumes: [], image: "i" }),
  }) as ResolvedEnv["services"][number];

function env(stateDir: string): ResolvedEnv {
  return {
    schemaVersion: 2,
    name: "e",
    kind: "devenv",
    home: "/h",
    block: 0,
    base: 10000,
    repo: "/r",
    baseRef: "main",
    branch: "e-workspace",
    worktreeDir: "/h/worktrees/e",
    state: "warm",
    stateDir,
    services: [
      svc("db", "container"),
      svc("sdk", "process", true),
      svc("api", "process", false, ["db", "sdk"]),
    ],
    envSh: "",
    init: [],
    initAfter: ["db"],
  };
}

describe("lifecycle rules", () => {
  it("each state runs: warm all, cold the cold ones, stopped none", () => {
    const services = env("/x").services;
    assert.deepEqual([...runningServices(services, "warm")], ["db", "sdk", "api"]);
    assert.deepEqual([...runningServices(services, "cold")], ["sdk"]);
    assert.deepEqual([...runningServices(services, "stopped")], []);
  });

  it("upstream closure follows depends_on transitively and ignores unknown names", () => {
    const services = [
      { name: "a", cold: false, dependsOn: [] },
      { name: "b", cold: false, dependsOn: ["a"] },
      { name: "c", cold: false, dependsOn: ["b"] },
      { name: "d", cold: false, dependsOn: [] },
    ];
    assert.deepEqual([...upstreamClosure(services, ["c", "ghost"])].sort(), ["a", "b", "c"]);
  });

  it("transitions: dust-hive's invalid ones are explained, the rest allowed", () => {
    const table: [Verb, EnvState, RegExp | undefined][] = [
      ["warm", "cold", undefined],
      ["warm", "warm", undefined], // repairs
      ["warm", "stopped", /is stopped: run `envctl start e` first/],
      ["cool", "warm", undefined],
      ["cool", "cold", /already cold/],
      ["cool", "stopped", /is stopped; there is nothing to cool/],
      ["start", "stopped", undefined],
      ["start", "cold", undefined], // repairs
      ["start", "warm", /already started/],
      ["stop", "warm", undefined],
      ["stop", "cold", undefined],
      ["stop", "stopped", /already stopped/],
    ];
    for (const [verb, from, problem] of table) {
      const got = transitionProblem(verb, from, "e");
      if (problem) assert.match(got ?? "", problem, `${verb} from ${from}`);
      else assert.equal(got, undefined, `${verb} from ${from}`);
    }
    assert.deepEqual(VERB_TARGET, { warm: "warm", cool: "cold", start: "cold", stop: "stopped" });
  });
});

describe("reality", () => {
  const dir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "envctl-reality-"));
  const pidFile = (d: string, name: string, pid: number): void =>
    fs.writeFileSync(
      path.join(d, `${name}.pid`),
      JSON.stringify({ pid, pgid: pid, startedAtMs: 1, cmd: "x" }),
    );
  const containers = (running: boolean): ContainerMap =>
    new Map([
      ["e", new Map([["db", { running, status: running ? "running" : "exited", id: "abc" }]])],
    ]);

  it("a run-to-completion service that exited 0 is done; replicas show as one row", () => {
    const d = dir();
    pidFile(d, "sdk", process.pid);
    pidFile(d, "api", process.pid);
    const e = env(d);
    // api needs db to complete (compose service_completed_successfully).
    e.services = e.services.map((s) =>
      s.name === "api" ? { ...s, conditions: { db: "completed" as const } } : s,
    );
    const done: ContainerMap = new Map([
      ["e", new Map([["db", { running: false, status: "exited", id: "abc", exitCode: 0 }]])],
    ]);
    const r = envReality(e, "warm", done);
    assert.equal(r.actual, "warm");
    assert.deepEqual(r.warnings, []);
    assert.match(r.services[0]!.detail, /completed/);
    const failed: ContainerMap = new Map([
      ["e", new Map([["db", { running: false, status: "exited", id: "abc", exitCode: 3 }]])],
    ]);
    assert.equal(envReality(e, "warm", failed).services[0]!.crashed, true);
    const replicas: ContainerMap = new Map([
      ["e", new Map([["db", { running: true, status: "running", id: "abc", count: 3 }]])],
    ]);
    assert.match(
      envReality(env(d), "warm", replicas).services[0]!.detail,
      /^3 containers, container abc$/,
    );
  });

  it("agrees: actual equals desired, no warnings", () => {
    const d = dir();
    pidFile(d, "sdk", process.pid); // a live process stands in for the daemon
    pidFile(d, "api", process.pid);
    const r = envReality(env(d), "warm", containers(true));
    assert.equal(r.actual, "warm");
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(
      r.services.map((s) => [s.name, s.running]),
      [
        ["db", true],
        ["sdk", true],
        ["api", true],
      ],
    );
  });

  it("a daemon whose pid is gone is a crash: ⚠ reason and derived state", () => {
    const d = dir();
    pidFile(d, "sdk", process.pid);
    pidFile(d, "api", 2 ** 22 + 7); // beyond pid_max: never alive
    const r = envReality(env(d), "warm", containers(true));
    assert.deepEqual(r.warnings, ["api died"]);
    assert.equal(r.actual, "warm"); // db still runs, and it only runs warm
    assert.equal(r.services.find((s) => s.name === "api")!.crashed, true);
  });

  it("cold with a container still running, and cold with its watcher dead", () => {
    const d = dir();
    pidFile(d, "sdk", process.pid);
    const extra = envReality(env(d), "cold", containers(true));
    assert.deepEqual(extra.warnings, ["db running while the env is cold"]);
    assert.equal(extra.actual, "warm");
    fs.rmSync(path.join(d, "sdk.pid"));
    const none = envReality(env(d), "cold", containers(false));
    assert.deepEqual(none.warnings, ["sdk not running"]);
    assert.equal(none.actual, "stopped");
  });

  it("Docker unreachable: containers are unknown, said once", () => {
    const d = dir();
    const r = envReality(env(d), "stopped", undefined);
    assert.deepEqual(r.warnings, ["Docker is not reachable"]);
    assert.equal(r.services[0]!.running, undefined);
  });
});
