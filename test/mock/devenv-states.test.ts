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
import { earlyRemovals, leavingResources, withState } from "../../lib/kinds/devenv/lifecycle";
import { construct, key, plain, reg, resolved, T, type Capture } from "./harness";

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

  it("outputs do not depend on the state; withState adds which services it runs", async () => {
    // One at a time: the mocks are global to the process.
    const outs: Record<string, unknown>[] = [];
    for (const st of ["warm", "cold", "stopped"] as const) {
      outs.push(await resolved((await construct(ENV, env(st))).devenv.outputs));
    }
    assert.deepEqual(outs[1], outs[0]);
    assert.deepEqual(outs[2], outs[0]);
    const out = withState(outs[0]!, env("cold")) as {
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

// --- verbs that only remove services: the targeted destroy vs. the program ---------------------

/** A container whose dependent needs it only started (so it has a health gate), two replicas. */
const queue: ResolvedContainer = {
  name: "queue",
  type: "container",
  image: "redis:7",
  env: {},
  ports: [],
  volumes: [],
  health: health({ kind: "command", command: "redis-cli ping" }),
  dependsOn: [],
  cold: false,
  replicas: 2,
};
const worker: ResolvedContainer = {
  name: "worker",
  type: "container",
  image: "app:dev",
  env: {},
  ports: [],
  volumes: [],
  dependsOn: ["queue", "db"],
  conditions: { queue: "started", db: "healthy" },
  cold: false,
};
/** A cold container with a cold upstream: both stay through cool. */
const docs: ResolvedContainer = {
  name: "docs",
  type: "container",
  image: "nginx:1",
  env: {},
  ports: [{ container: 80, offset: 80, protocol: "tcp", host: 10080 }],
  volumes: [],
  dependsOn: ["watch"],
  cold: true,
};

const variants: Record<string, (st: EnvState) => ResolvedEnv> = {
  "processes, init": (st) => env(st),
  "no init": (st) => env(st, false),
  "replicas, a health gate, a cold container": (st) => ({
    ...env(st),
    services: [db, watch, api, queue, worker, docs],
  }),
};

/** The checkpoint the engine would hold after registering `c`, in URNs. */
function held(c: Capture): { urn: string; type: string; parent?: string }[] {
  const urn = (k: string): string => `urn:pulumi:${ENV}::envctl::${k}`;
  return [...c.regs.entries()].map(([k, r]) => ({
    urn: urn(k),
    type: r.type,
    ...(r.parent ? { parent: urn(r.parent) } : {}),
  }));
}

describe("leavingResources: a targeted destroy leaves what the program registers", () => {
  const moves: [EnvState, EnvState][] = [
    ["warm", "cold"],
    ["warm", "stopped"],
    ["cold", "stopped"],
  ];
  for (const [label, make] of Object.entries(variants)) {
    for (const [from, to] of moves) {
      it(`${label}: ${from} -> ${to}`, async () => {
        const before = await construct(ENV, make(from));
        const after = await construct(ENV, make(to));
        const targets = leavingResources(ENV, make(from).services, from, to, held(before));
        assert.ok(targets, "a removal has targets");
        const gone = [...before.regs.keys()].filter((k) => !after.regs.has(k)).sort();
        assert.ok(gone.length > 0 || from === "cold", "the move removes something");
        assert.deepEqual(targets.map((u) => u.split("::").slice(2).join("::")).sort(), gone);
        // What stays is registered exactly the same: nothing new, same inputs, parents, waits.
        for (const [k, r] of after.regs) {
          const was = before.regs.get(k);
          assert.ok(was, `${k} is new in ${to}`);
          assert.deepEqual(r.inputs, was.inputs, `${k} inputs`);
          assert.equal(r.parent, was.parent, `${k} parent`);
          assert.deepEqual(r.dependsOn, was.dependsOn, `${k} dependsOn`);
          assert.deepEqual(r.rpcDeps, was.rpcDeps, `${k} dependencies`);
        }
        assert.deepEqual(
          await resolved(after.devenv.outputs),
          await resolved(before.devenv.outputs),
        );
      });
    }
  }

  it("a move that starts a service has no targets: the program must run", () => {
    const svcs = env("warm").services;
    assert.equal(leavingResources(ENV, svcs, "cold", "warm", []), undefined);
    assert.equal(leavingResources(ENV, svcs, "stopped", "cold", []), undefined);
  });

  it("a service missing from the checkpoint is nothing to delete", async () => {
    const before = await construct(ENV, env("warm"));
    const partial = held(before).filter((r) => !r.urn.endsWith(`::${ENV}-api`));
    const targets = leavingResources(ENV, env("warm").services, "warm", "cold", partial)!;
    assert.ok(targets.length > 0);
    assert.ok(targets.every((u) => !u.endsWith(`::${ENV}-api`)));
  });
});

// --- cool's early removals: the CLI removes containers while the engine starts ----------------

/**
 * The checkpoint with what earlyRemovals reads: each resource's dependencies (as the engine
 * records the registration's) and its outputs (a dynamic resource's outputs are its inputs plus
 * what create adds, which earlyRemovals does not read).
 */
function heldWithState(c: Capture): ReturnType<typeof held> {
  const urn = (k: string): string => `urn:pulumi:${ENV}::envctl::${k}`;
  return held(c).map((h, i) => {
    const r = [...c.regs.values()][i]!;
    return { ...h, dependencies: r.rpcDeps.map(urn), outputs: plain(r) };
  });
}

async function wavesOf(e: (st: EnvState) => ResolvedEnv, from: EnvState, to: EnvState) {
  const before = await construct(ENV, e(from));
  const state = heldWithState(before);
  const targets = leavingResources(ENV, e(from).services, from, to, state)!;
  return earlyRemovals(targets, state).map((w) => w.map((c) => c.name).sort());
}

describe("earlyRemovals: what cool removes before the engine, in which order", () => {
  const full = variants["replicas, a health gate, a cold container"]!;
  const c = (svc: string): string => `envctl-${ENV}-${svc}`;

  it("dependents first; an upstream of a process service is left to the engine", async () => {
    // worker needs queue started (its two replicas) and db healthy; api, a process, needs db.
    assert.deepEqual(await wavesOf(full, "warm", "cold"), [
      [c("worker")],
      [c("queue"), c("queue-2")],
    ]);
  });

  it("stop: a cold container goes before the process it depends on, which the engine stops", async () => {
    assert.deepEqual(await wavesOf(full, "warm", "stopped"), [
      [c("docs"), c("worker")],
      [c("queue"), c("queue-2")],
    ]);
    assert.deepEqual(await wavesOf(full, "cold", "stopped"), [[c("docs")]]);
  });

  it("pre_stop hooks: that container and its upstreams are the engine's; stop_signal is a stop", async () => {
    const hooked = (st: EnvState): ResolvedEnv => {
      const e = full(st);
      return {
        ...e,
        services: e.services.map((s) =>
          s.name === "worker"
            ? { ...s, docker: { pre_stop: [{ command: ["./drain"] }] } }
            : s.name === "queue"
              ? { ...s, docker: { stop_signal: "SIGQUIT" } }
              : s,
        ),
      };
    };
    assert.deepEqual(await wavesOf(hooked, "warm", "cold"), []);
    const signalled = (st: EnvState): ResolvedEnv => {
      const e = full(st);
      return {
        ...e,
        services: e.services.map((s) =>
          s.name === "queue" ? { ...s, docker: { stop_signal: "SIGQUIT" } } : s,
        ),
      };
    };
    const before = await construct(ENV, signalled("warm"));
    const state = heldWithState(before);
    const targets = leavingResources(ENV, signalled("warm").services, "warm", "cold", state)!;
    const waves = earlyRemovals(targets, state);
    assert.deepEqual(
      waves.flat().map((r) => [r.name, r.stop]),
      [
        [c("worker"), false],
        [c("queue"), true],
        [c("queue-2"), true],
      ],
    );
  });

  it("a container on another Docker host is the engine's", () => {
    const urn = (n: string): string => `urn:pulumi:${ENV}::envctl::${T.Container}::${n}`;
    const state = [
      { urn: urn("a"), type: T.Container, outputs: { name: "a", dockerHost: "ssh://me@box" } },
      { urn: urn("b"), type: T.Container, outputs: { name: "b" } },
    ];
    assert.deepEqual(earlyRemovals([urn("a"), urn("b")], state), [[{ name: "b", stop: false }]]);
  });
});

describe("stop --volumes (compose's down -v)", () => {
  it("a stopped env with volumesDropped registers no volume; any other state keeps them", async () => {
    const vol = key(T.Volume, `${ENV}-volume-pgdata`);
    const dropped = await construct(ENV, { ...env("stopped"), volumesDropped: true });
    assert.ok(!dropped.regs.has(vol), "the volume is gone from the plan");
    // Everything else the stopped env holds is registered as without the flag.
    const plain = await construct(ENV, env("stopped"));
    assert.ok(plain.regs.has(vol));
    assert.deepEqual(
      [...dropped.regs.keys()].sort(),
      [...plain.regs.keys()].filter((k) => k !== vol).sort(),
    );
    // The flag means nothing to a running env: its containers need their volumes.
    const warm = await construct(ENV, { ...env("warm"), volumesDropped: true });
    assert.ok(warm.regs.has(vol));
  });
});

// --- the supervisor and the *.localhost routes ------------------------------------------------

describe("the supervisor and the routes in the DevEnv graph", () => {
  const supervised = (state: EnvState, only?: string[]): ResolvedEnv => ({
    ...env(state, false),
    services: [
      db,
      watch,
      {
        ...api,
        restart: "on-failure",
        maxRestarts: 4,
        subdomain: "api",
        watch: { paths: ["api/src"], ignore: ["*.tmp"], restart: true, debounceMs: 500 },
      },
    ],
    dev: { proxyPort: 7099, logLevel: "warn" },
    ...(only ? { only } : {}),
  });

  it("one Supervisor after every running process service, with their policies and watches", async () => {
    const c = await construct(ENV, supervised("warm"));
    const sup = reg(c, T.Supervisor, `${ENV}-supervisor`);
    // Created after the daemons, so deleted before them: cool and destroy stop it first.
    assert.deepEqual(
      sup.dependsOn,
      [key(T.Process, `${ENV}-api`), key(T.Process, `${ENV}-watch`)].sort(),
    );
    assert.equal(sup.inputs.catalogFile, "/home/dev/.envctl/catalog.db");
    assert.equal(sup.inputs.logLevel, "warn");
    const services = sup.inputs.services as Record<string, unknown>[];
    assert.deepEqual(
      services.map((s) => [s.name, s.restart, s.maxRestarts, s.cwd]),
      [
        ["watch", "no", undefined, `${WORKTREE}/sdk`],
        ["api", "on-failure", 4, `${WORKTREE}/api`],
      ],
    );
    assert.deepEqual((services[1]!.watch as { paths: string[] }).paths, [`${WORKTREE}/api/src`]);
    assert.deepEqual(sup.inputs.backoff, { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 });
  });

  it("no restart policy and no watch: no supervisor", async () => {
    const c = await construct(ENV, env("warm", false));
    assert.ok(![...c.regs.keys()].some((k) => k.startsWith(T.Supervisor)));
  });

  it("routes of running services with a subdomain, after them; none while cold", async () => {
    const c = await construct(ENV, supervised("warm"));
    const routes = reg(c, T.LocalRoutes, `${ENV}-routes`);
    assert.deepEqual(routes.dependsOn, [key(T.Process, `${ENV}-api`)]);
    assert.equal(routes.inputs.proxyPort, 7099);
    assert.deepEqual(routes.inputs.routes, [{ subdomain: "api", service: "api", port: 10000 }]);
    const cold = await construct(ENV, supervised("cold"));
    assert.ok(![...cold.regs.keys()].some((k) => k.startsWith(T.LocalRoutes)));
    // `only` leaves api out: no route, and the supervisor watches what runs (watch alone).
    const some = await construct(ENV, supervised("warm", ["db"]));
    assert.ok(![...some.regs.keys()].some((k) => k.startsWith(T.LocalRoutes)));
    assert.ok(![...some.regs.keys()].some((k) => k === key(T.Process, `${ENV}-api`)));
    assert.ok(some.regs.has(key(T.Container, `${ENV}-db`)));
  });

  it("outputs name the proxy address of a routed service", async () => {
    const out = (await resolved((await construct(ENV, supervised("warm"))).devenv.outputs)) as {
      services: Record<string, { proxy?: string }>;
    };
    assert.equal(out.services.api!.proxy, `http://api.${ENV}.localhost:7099/`);
    assert.equal(out.services.db!.proxy, undefined);
  });
});
