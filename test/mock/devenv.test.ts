/**
 * The DevEnv component graph under Pulumi mocks: which resources it registers (types, names,
 * parents, inputs), what each waits on, and that service order and cycles behave.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { DevEnv } from "../../components/devenv/devenv";
import { upgradeEnv } from "../../lib/kinds/devenv/upgrade";
import type {
  HealthCheck,
  ResolvedContainer,
  ResolvedEnv,
  ResolvedService,
} from "../../lib/spec/model";
import {
  construct,
  key,
  plain,
  reg,
  resolved,
  T,
  type Capture,
  type Registration,
} from "./harness";
// --- the env under test -----------------------------------------------------------------------

const REPO = "/src/shop";
const WORKTREE = "/home/dev/.envctl/worktrees/feat-x";
const BLOCK = 3;
const BASE = 13000;

const health = (h: Partial<HealthCheck> & Pick<HealthCheck, "kind">): HealthCheck => ({
  intervalMs: 1000,
  timeoutMs: 2000,
  retries: 30,
  startPeriodMs: 0,
  ...h,
});

const db: ResolvedContainer = {
  name: "db",
  type: "container",
  image: "postgres:16-alpine",
  env: { POSTGRES_PASSWORD: "dev" },
  ports: [{ container: 5432, offset: 432, protocol: "tcp", host: BASE + 432 }],
  volumes: [
    { source: "pgdata", target: "/var/lib/postgresql/data", kind: "volume", readOnly: false },
  ],
  health: health({ kind: "command", command: "pg_isready -U postgres" }),
  dependsOn: [],
  cold: false,
};

const web: ResolvedContainer = {
  name: "web",
  type: "container",
  build: {
    context: `${REPO}/services/web`,
    dockerfile: "Dockerfile",
    args: { NODE_ENV: "development" },
  },
  env: { DATABASE_URL: "postgres://postgres:dev@db:5432/postgres" },
  ports: [{ container: 8080, offset: 80, protocol: "tcp", host: BASE + 80 }],
  volumes: [],
  health: health({ kind: "http", path: "/healthz", port: 8080 }),
  dependsOn: ["db"],
  cold: false,
};

const worker: ResolvedContainer = {
  name: "worker",
  type: "container",
  image: "shop/worker:dev",
  command: ["node", "worker.js"],
  env: {},
  ports: [],
  volumes: [{ source: "/src/shop/jobs", target: "/jobs", kind: "bind", readOnly: true }],
  dependsOn: ["web", "db"],
  cold: false,
};

function makeEnv(name: string, services: ResolvedService[]): ResolvedEnv {
  return {
    schemaVersion: 2,
    name,
    kind: "devenv",
    home: "/home/dev/.envctl",
    block: BLOCK,
    base: BASE,
    repo: REPO,
    baseRef: "main",
    branch: `${name}-workspace`,
    worktreeDir: WORKTREE,
    state: "warm",
    stateDir: `/home/dev/.envctl/envs/${name}`,
    services,
    envSh: "",
    init: [],
    initAfter: [],
  };
}

// --- tests ------------------------------------------------------------------------------------

describe("DevEnv under mocks", () => {
  const ENV = "feat-x";
  let c: Capture;

  before(async () => {
    c = await construct(ENV, makeEnv(ENV, [db, web, worker]));
  });

  it("registers exactly the env's resources, named from the env name, parented by component", () => {
    const expected: Record<string, string> = {
      [key(T.DevEnv, ENV)]: "",
      [key(T.WorktreeComponent, `${ENV}-worktree`)]: key(T.DevEnv, ENV),
      [key(T.Worktree, `${ENV}-worktree`)]: key(T.WorktreeComponent, `${ENV}-worktree`),
      [key(T.File, `${ENV}-env-sh`)]: key(T.DevEnv, ENV),
      [key(T.Network, `${ENV}-network`)]: key(T.DevEnv, ENV),
      [key(T.Volume, `${ENV}-volume-pgdata`)]: key(T.DevEnv, ENV),
      [key(T.Service, `${ENV}-db`)]: key(T.DevEnv, ENV),
      [key(T.Container, `${ENV}-db`)]: key(T.Service, `${ENV}-db`),
      [key(T.Service, `${ENV}-web`)]: key(T.DevEnv, ENV),
      // Images hang off the env, not the container: they outlive cool and stop.
      [key(T.Image, `${ENV}-web-image`)]: key(T.DevEnv, ENV),
      [key(T.Container, `${ENV}-web`)]: key(T.Service, `${ENV}-web`),
      [key(T.Service, `${ENV}-worker`)]: key(T.DevEnv, ENV),
      [key(T.Container, `${ENV}-worker`)]: key(T.Service, `${ENV}-worker`),
    };
    const actual = Object.fromEntries([...c.regs].map(([k, r]) => [k, r.parent]));
    assert.deepEqual(actual, expected);
    for (const r of c.regs.values()) {
      assert.equal(r.custom, r.type.startsWith("pulumi-nodejs:dynamic/"), `${r.type} custom flag`);
    }
  });

  it("makes no provider calls", () => {
    assert.deepEqual(c.calls, []);
  });

  it("serializes each dynamic resource's provider as the trampoline", () => {
    for (const r of c.regs.values()) {
      if (!r.custom) continue;
      const text = r.inputs.__provider;
      assert.equal(typeof text, "string", `${r.name} __provider`);
      assert.match(text as string, /ENVCTL_ROOT/, `${r.name} provider loads handlers at run time`);
      assert.match(text as string, /providers/);
    }
  });

  it("worktree: dir, branch and base from the env", () => {
    assert.deepEqual(plain(reg(c, T.Worktree, `${ENV}-worktree`)), {
      repo: REPO,
      dir: WORKTREE,
      branch: `${ENV}-workspace`,
      base: "main",
    });
  });

  it("network and volume: namespaced Docker names and env labels", () => {
    assert.deepEqual(plain(reg(c, T.Network, `${ENV}-network`)), {
      name: `envctl-${ENV}`,
      labels: { "envctl.env": ENV },
    });
    assert.deepEqual(plain(reg(c, T.Volume, `${ENV}-volume-pgdata`)), {
      name: `envctl-${ENV}-pgdata`,
      labels: { "envctl.env": ENV },
    });
  });

  it("db container: image, host port in the block, namespaced volume, alias, labels, health", () => {
    assert.deepEqual(plain(reg(c, T.Container, `${ENV}-db`)), {
      name: `envctl-${ENV}-db`,
      image: "postgres:16-alpine",
      env: { POSTGRES_PASSWORD: "dev" },
      ports: [{ container: 5432, host: 13432, protocol: "tcp" }],
      volumes: [
        {
          source: `envctl-${ENV}-pgdata`,
          target: "/var/lib/postgresql/data",
          readOnly: false,
          kind: "volume",
        },
      ],
      network: `envctl-${ENV}`,
      aliases: ["db"],
      labels: { "envctl.env": ENV, "envctl.service": "db" },
      health: db.health,
    });
  });

  it("web container runs the built image; worker keeps its command, its bind mount is in the worktree", () => {
    assert.deepEqual(plain(reg(c, T.Container, `${ENV}-web`)), {
      name: `envctl-${ENV}-web`,
      image: `sha256:${ENV}-web-image`,
      env: web.env,
      ports: [{ container: 8080, host: 13080, protocol: "tcp" }],
      volumes: [],
      network: `envctl-${ENV}`,
      aliases: ["web"],
      labels: { "envctl.env": ENV, "envctl.service": "web" },
      health: web.health,
    });
    assert.deepEqual(plain(reg(c, T.Container, `${ENV}-worker`)), {
      name: `envctl-${ENV}-worker`,
      image: "shop/worker:dev",
      command: ["node", "worker.js"],
      env: {},
      ports: [],
      // The repo's jobs/ as the env's worktree has it, like the build context.
      volumes: [{ source: `${WORKTREE}/jobs`, target: "/jobs", readOnly: true, kind: "bind" }],
      network: `envctl-${ENV}`,
      aliases: ["worker"],
      labels: { "envctl.env": ENV, "envctl.service": "worker" },
    });
  });

  it("web image: context mapped from the repo into the worktree, tag and labels", () => {
    assert.deepEqual(plain(reg(c, T.Image, `${ENV}-web-image`)), {
      context: `${WORKTREE}/services/web`,
      dockerfile: "Dockerfile",
      args: { NODE_ENV: "development" },
      tag: `envctl/${ENV}-web:latest`,
      labels: { "envctl.env": ENV, "envctl.service": "web" },
      // The mocked worktree path does not exist on disk.
      contextHash: "missing",
    });
  });

  it("dependsOn: containers wait on worktree, network, volumes and upstream containers", () => {
    const wt = key(T.Worktree, `${ENV}-worktree`);
    const net = key(T.Network, `${ENV}-network`);
    const vol = key(T.Volume, `${ENV}-volume-pgdata`);
    const dbC = key(T.Container, `${ENV}-db`);
    const webC = key(T.Container, `${ENV}-web`);
    const image = key(T.Image, `${ENV}-web-image`);
    const explicit = (type: string, name: string): string[] => reg(c, type, name).dependsOn;

    assert.deepEqual(explicit(T.Container, `${ENV}-db`), [wt, net, vol].sort());
    assert.deepEqual(explicit(T.Container, `${ENV}-web`), [wt, net, vol, dbC, image].sort());
    assert.deepEqual(explicit(T.Container, `${ENV}-worker`), [wt, net, vol, webC, dbC].sort());
    // The build overlaps with db start-up: it waits for the worktree only.
    assert.deepEqual(explicit(T.Image, `${ENV}-web-image`), [wt]);
    for (const name of [`${ENV}-worktree`, `${ENV}-network`, `${ENV}-volume-pgdata`]) {
      const type = name.endsWith("worktree")
        ? T.Worktree
        : name.endsWith("network")
          ? T.Network
          : T.Volume;
      assert.deepEqual(explicit(type, name), [], `${name} waits on nothing`);
    }
  });

  it("the engine receives the same dependencies, plus those carried by inputs", () => {
    const wt = key(T.Worktree, `${ENV}-worktree`);
    const net = key(T.Network, `${ENV}-network`);
    const vol = key(T.Volume, `${ENV}-volume-pgdata`);
    const dbC = key(T.Container, `${ENV}-db`);
    const webC = key(T.Container, `${ENV}-web`);
    const image = key(T.Image, `${ENV}-web-image`);
    const sent = (type: string, name: string): Registration => reg(c, type, name);

    assert.deepEqual(sent(T.Container, `${ENV}-db`).rpcDeps, [wt, net, vol].sort());
    assert.deepEqual(sent(T.Container, `${ENV}-web`).rpcDeps, [wt, net, vol, dbC, image].sort());
    assert.deepEqual(sent(T.Container, `${ENV}-worker`).rpcDeps, [wt, net, vol, webC, dbC].sort());
    assert.deepEqual(sent(T.Image, `${ENV}-web-image`).rpcDeps, [wt]);
    // Inputs that carry outputs name their source resource.
    assert.deepEqual(sent(T.Container, `${ENV}-db`).propertyDeps.network, [net]);
    assert.deepEqual(sent(T.Container, `${ENV}-db`).propertyDeps.volumes, [vol]);
    assert.deepEqual(sent(T.Container, `${ENV}-web`).propertyDeps.image, [image]);
    assert.deepEqual(sent(T.Image, `${ENV}-web-image`).propertyDeps.context, [wt]);
  });

  it("outputs: worktree, branch, block and per-service URLs (not the state: withState adds it)", async () => {
    assert.deepEqual(await resolved(c.devenv.outputs), {
      env: ENV,
      block: BLOCK,
      base: BASE,
      worktree: WORKTREE,
      branch: `${ENV}-workspace`,
      envSh: `/home/dev/.envctl/envs/${ENV}/env.sh`,
      services: {
        db: {
          type: "container",
          container: `envctl-${ENV}-db`,
          ports: { "5432": 13432 },
          urls: ["tcp://localhost:13432"],
        },
        web: {
          type: "container",
          container: `envctl-${ENV}-web`,
          ports: { "8080": 13080 },
          urls: ["http://localhost:13080/healthz"],
        },
        worker: {
          type: "container",
          container: `envctl-${ENV}-worker`,
          ports: {},
          urls: [],
        },
      },
    });
  });

  it("reordering services changes no resource name, input or dependency", async () => {
    const again = await construct(ENV, makeEnv(ENV, [worker, db, web]));
    assert.deepEqual([...again.regs.keys()].sort(), [...c.regs.keys()].sort());
    for (const [k, r] of c.regs) {
      if (k === key(T.DevEnv, ENV)) continue; // its outputs list services in spec order
      assert.deepEqual(again.regs.get(k), r, k);
    }
  });

  it("an env stored before versioning (v1), once upgraded, registers the very same inputs", async () => {
    const { schemaVersion: _version, ...v1 } = makeEnv(ENV, [db, web, worker]);
    const old = await construct(ENV, upgradeEnv(JSON.parse(JSON.stringify(v1))));
    assert.deepEqual([...old.regs.keys()].sort(), [...c.regs.keys()].sort());
    for (const [k, r] of c.regs) assert.deepEqual(old.regs.get(k), r, k);
  });
});

describe("DevEnv dependency cycles", () => {
  it("throws naming every member of the cycle", async () => {
    const a: ResolvedService = { ...worker, name: "a", dependsOn: ["c"] };
    const b: ResolvedService = { ...worker, name: "b", dependsOn: ["a"] };
    const cc: ResolvedService = { ...worker, name: "c", dependsOn: ["b"] };
    await pulumi.runtime.setMocks({
      newResource: (args) => ({ id: undefined, state: args.inputs as Record<string, unknown> }),
      call: (args) => {
        throw new Error(`unexpected call ${args.token}`);
      },
    });
    assert.throws(
      () => new DevEnv("cyc", makeEnv("cyc", [db, a, b, cc])),
      (err: Error) => {
        assert.match(err.message, /dependency cycle/);
        for (const m of ["a", "b", "c"]) assert.match(err.message, new RegExp(`\\b${m}\\b`));
        assert.doesNotMatch(err.message, /\bdb\b/);
        return true;
      },
    );
  });
});
