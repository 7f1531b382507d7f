/**
 * The DevEnv graph per desired state, with process services and first-warm init, under Pulumi
 * mocks (standing in for the real engine run in test/e2e/lifecycle.test.ts): which resources
 * each state declares, and what every service, init step and daemon waits on.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  EnvState,
  HealthCheck,
  ResolvedContainer,
  ResolvedEnv,
  ResolvedProcess,
} from "../../lib/spec/model";
import { construct, key, plain, reg, resolved, T } from "./harness";

const ENV = "st";
const STATE_DIR = `/home/dev/.envctl/envs/${ENV}`;
const WORKTREE = `/home/dev/.envctl/worktrees/${ENV}`;

const health = (h: Partial<HealthCheck> & Pick<HealthCheck, "kind">): HealthCheck => ({
  intervalMs: 200,
  timeoutMs: 1000,
  retries: 10,
  startPeriodMs: 0,
  ...h,
});

const db: ResolvedContainer = {
  name: "db",
  type: "container",
  build: { context: "/src/app/db", dockerfile: "Dockerfile", args: {} },
  env: {},
  ports: [{ container: 5432, offset: 432, protocol: "tcp", host: 10432 }],
  volumes: [{ source: "pgdata", target: "/data", kind: "volume", readOnly: false }],
  health: health({ kind: "command", command: "pg_isready" }),
  dependsOn: [],
  cold: false,
};
const watch: ResolvedProcess = {
  name: "watch",
  type: "process",
  cmd: "npm run watch",
  dir: "sdk",
  env: {},
  ports: [],
  health: health({ kind: "command", command: "test -f dist/ok" }),
  dependsOn: [],
  cold: true,
};
const api: ResolvedProcess = {
  name: "api",
  type: "process",
  cmd: "node server.js",
  dir: "api",
  env: { MODE: "dev" },
  ports: [{ container: 3000, offset: 0, protocol: "tcp", host: 10000 }],
  health: health({ kind: "http", path: "/healthz" }),
  dependsOn: ["db", "watch"],
  cold: false,
};

function env(state: EnvState, init = true): ResolvedEnv {
  return {
    schemaVersion: 2,
    name: ENV,
    kind: "devenv",
    home: "/home/dev/.envctl",
    block: 0,
    base: 10000,
    repo: "/src/app",
    baseRef: "main",
    branch: `${ENV}-workspace`,
    worktreeDir: WORKTREE,
    state,
    stateDir: STATE_DIR,
    services: [db, watch, api],
    envSh: "export PORT=10000\n",
    init: init ? [{ name: "seed", run: "./seed.sh", dir: "." }] : [],
    initAfter: ["db"],
  };
}

const always = [
  key(T.DevEnv, ENV),
  key(T.WorktreeComponent, `${ENV}-worktree`),
  key(T.Worktree, `${ENV}-worktree`),
  key(T.File, `${ENV}-env-sh`),
  key(T.Network, `${ENV}-network`),
  key(T.Volume, `${ENV}-volume-pgdata`),
  key(T.Image, `${ENV}-db-image`),
];

describe("DevEnv per desired state", () => {
  it("warm declares every service and init; cold only cold services; stopped none", async () => {
    const keys = async (s: EnvState): Promise<string[]> =>
      [...(await construct(ENV, env(s))).regs.keys()].sort();
    const watchKeys = [key(T.ProcessComponent, `${ENV}-watch`), key(T.Process, `${ENV}-watch`)];
    assert.deepEqual(await keys("stopped"), [...always].sort());
    assert.deepEqual(await keys("cold"), [...always, ...watchKeys].sort());
    assert.deepEqual(
      await keys("warm"),
      [
        ...always,
        ...watchKeys,
        key(T.Service, `${ENV}-db`),
        key(T.Container, `${ENV}-db`),
        key(T.ProcessComponent, `${ENV}-api`),
        key(T.Process, `${ENV}-api`),
        key(T.Init, `${ENV}-init`),
      ].sort(),
    );
  });

  it("a process daemon: cwd in the worktree, env.sh, its env and health, ports in the block", async () => {
    const c = await construct(ENV, env("warm"));
    const p = reg(c, T.Process, `${ENV}-api`);
    assert.equal(p.inputs.name, "api");
    assert.equal(p.inputs.stateDir, STATE_DIR);
    assert.equal(p.inputs.cwd, `${WORKTREE}/api`);
    assert.equal(p.inputs.cmd, "node server.js");
    assert.deepEqual(p.inputs.vars, { MODE: "dev" });
    assert.equal(p.inputs.envFile, `${STATE_DIR}/env.sh`);
    assert.match(String(p.inputs.envShHash), /^[0-9a-f]{16}$/);
    assert.deepEqual(p.inputs.ports, api.ports);
    assert.equal((p.inputs.health as HealthCheck).path, "/healthz");
    const f = reg(c, T.File, `${ENV}-env-sh`);
    assert.deepEqual(plain(f), { path: `${STATE_DIR}/env.sh`, content: "export PORT=10000\n" });
  });

  it("gating: init waits for db; api waits for db, watch and init; watch never waits for init", async () => {
    const c = await construct(ENV, env("warm"));
    const wt = key(T.Worktree, `${ENV}-worktree`);
    const envSh = key(T.File, `${ENV}-env-sh`);
    const dbC = key(T.Container, `${ENV}-db`);
    const watchP = key(T.Process, `${ENV}-watch`);
    const init = key(T.Init, `${ENV}-init`);
    assert.deepEqual(reg(c, T.Init, `${ENV}-init`).dependsOn, [envSh, dbC].sort());
    assert.deepEqual(
      reg(c, T.Process, `${ENV}-api`).dependsOn,
      [wt, envSh, dbC, watchP, init].sort(),
    );
    assert.deepEqual(reg(c, T.Process, `${ENV}-watch`).dependsOn, [wt, envSh].sort());
    const i = reg(c, T.Init, `${ENV}-init`);
    assert.deepEqual(i.inputs.steps, [{ name: "seed", run: "./seed.sh", dir: "." }]);
    assert.equal(i.inputs.worktree, WORKTREE);
  });

  it("without init steps nothing waits for an init resource", async () => {
    const c = await construct(ENV, env("warm", false));
    assert.ok(![...c.regs.keys()].some((k) => k.startsWith(T.Init)));
    const wt = key(T.Worktree, `${ENV}-worktree`);
    const envSh = key(T.File, `${ENV}-env-sh`);
    assert.deepEqual(
      reg(c, T.Process, `${ENV}-api`).dependsOn,
      [wt, envSh, key(T.Container, `${ENV}-db`), key(T.Process, `${ENV}-watch`)].sort(),
    );
  });

  it("outputs say which services the state runs", async () => {
    const c = await construct(ENV, env("cold"));
    const out = (await resolved(c.devenv.outputs)) as {
      state: string;
      services: Record<string, { running: boolean; type: string; log?: string }>;
    };
    assert.equal(out.state, "cold");
    assert.deepEqual(
      Object.fromEntries(Object.entries(out.services).map(([k, v]) => [k, [v.type, v.running]])),
      { db: ["container", false], watch: ["process", true], api: ["process", false] },
    );
    assert.equal(out.services.watch!.log, `${STATE_DIR}/watch.log`);
  });
});
