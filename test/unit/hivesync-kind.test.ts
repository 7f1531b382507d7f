/**
 * The hivesync kind's pure parts: its spec block (defaults, dot-path errors), which variables
 * are secrets, how secret values leave the resolved env (one token per value, shared by every
 * service reading the same env file, swapped inside other values too), and how the health
 * check judges what Postgres and Redis answered.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { judge, parseRedis, STATUS_EXIT } from "../../lib/health/hivesync";
import { siteUrl } from "../../lib/kinds/hivesync/proxy";
import { caddyfile } from "../../lib/providers/proxy";
import { resolveHivesync } from "../../lib/kinds/hivesync/resolve";
import { dependentsOf } from "../../cli/commands/backup";
import { splitSecrets } from "../../lib/kinds/hivesync/secrets";
import { vmHost, withEngine } from "../../lib/kinds/hivesync/target";
import {
  deployed,
  DEPLOYED_KEY,
  rememberPrevious,
  sameDeploy,
  type Deploy,
} from "../../lib/kinds/hivesync/deploys";
import type { Engine } from "../../lib/engine/automation";
import * as os from "node:os";
import * as YAML from "yaml";
import { execFileSync } from "node:child_process";
import { strongSecret } from "../../lib/providers/secret";
import { fillTokens, outputToken, tokensIn } from "../../lib/spec/copilot";
import { isSecretVar } from "../../lib/spec/hivesync";
import { parseSpecText } from "../../lib/spec/load";
import type { HealthSpec, ResolvedEnv, ResolvedService } from "../../lib/spec/model";
import { makeRepo, tempHome } from "../support/env";

const dirs: string[] = [];
/** An error as the CLI prints it: its message, then its detail lines. */
const told = (err: Error): string =>
  [err.message, ...((err as { details?: string[] }).details ?? [])].join("\n");
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function parse(spec: string): ReturnType<typeof parseSpecText> {
  const repo = makeRepo({ files: { "envctl.yaml": spec } });
  dirs.push(repo);
  return parseSpecText(spec, { file: path.join(repo, "envctl.yaml") });
}

const BASE = [
  "kind: hivesync",
  "services:",
  "  backend: { image: app:1, env: { JWT_SECRET: s3cret-value-1, PORT: '4000' } }",
  "  worker: { image: app:1, env: { JWT_SECRET: s3cret-value-1 } }",
  "  postgres: { image: postgres:16 }",
  "  redis: { image: redis:7 }",
  "",
].join("\n");

describe("the hivesync spec block", () => {
  it("defaults the health check to the postgres and redis services and the document's queues", () => {
    const r = parse(BASE);
    assert.deepEqual(r.errors, []);
    const h = r.spec!.hivesync!;
    assert.equal(h.target, "local");
    assert.equal(h.health.postgres, "postgres");
    assert.equal(h.health.redis, "redis");
    assert.deepEqual(h.health.queues, ["preview_build", "cleanup"]);
    assert.equal(h.health.heartbeats, "hivesync:heartbeat:*");
    assert.equal(h.health.maxHeartbeatAgeMs, 60_000);
    assert.deepEqual(h.generate, ["JWT_SECRET", "PREVIEW_TOKEN_SECRET"]);
  });

  it("reads deploy steps with their timeout", () => {
    const r = parse(
      `${BASE}hivesync:\n  deploy:\n    after:\n      - { service: backend, run: alembic upgrade head, timeout: 2m }\n`,
    );
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.spec!.hivesync!.deploy.after, [
      { service: "backend", run: "alembic upgrade head", timeoutMs: 120_000 },
    ]);
  });

  const bad: [string, string, RegExp][] = [
    [
      "an unknown service in a step",
      "  deploy:\n    after: [{ service: api, run: x }]",
      /^hivesync\.deploy\.after\[0\]\.service: unknown service "api"/,
    ],
    [
      "a step without run",
      "  deploy:\n    after: [{ service: backend }]",
      /^hivesync\.deploy\.after\[0\]\.run: required/,
    ],
    [
      "an unknown target",
      "  target: kubernetes",
      /^hivesync\.target: must be one of "local", "ssh"/,
    ],
    [
      "a misspelt field",
      "  helth: {}",
      /^hivesync: unknown field "helth" \(did you mean "health"\?\)/,
    ],
    [
      "a health service that does not exist",
      "  health: { redis: cache }",
      /^hivesync\.health\.redis: unknown service "cache"/,
    ],
    [
      "a bad duration",
      "  health: { max_heartbeat_age: soon }",
      /^hivesync\.health\.max_heartbeat_age: must be a duration/,
    ],
    [
      "a bad secret name",
      "  secrets: [my-var]",
      /^hivesync\.secrets\[0\]: must be a variable name/,
    ],
  ];
  for (const [what, block, re] of bad) {
    it(`refuses ${what} at its dot-path`, () => {
      const r = parse(`${BASE}hivesync:\n${block}\n`);
      assert.equal(r.spec, undefined);
      assert.ok(
        r.errors.some((e) => re.test(`${e.path}: ${e.message}`)),
        r.errors.map((e) => `${e.path}: ${e.message}`).join("\n"),
      );
    });
  }

  it("reads an SSH target, and refuses target ssh without its host, or ssh without target ssh", () => {
    const r = parse(
      `${BASE}hivesync:\n  target: ssh\n  ssh: { host: deploy@10.0.0.5:2222, identity_file: keys/deploy }\n`,
    );
    assert.deepEqual(r.errors, []);
    assert.equal(r.spec!.hivesync!.target, "ssh");
    assert.equal(r.spec!.hivesync!.ssh!.host, "deploy@10.0.0.5:2222");
    assert.match(r.spec!.hivesync!.ssh!.identityFile!, /\/keys\/deploy$/);
    assert.equal(r.spec!.hivesync!.ssh!.root, "/opt/hivesync");
    const errs = (block: string): string[] =>
      parse(`${BASE}hivesync:\n${block}\n`).errors.map((e) => `${e.path}: ${e.message}`);
    assert.deepEqual(errs("  target: ssh"), [
      'hivesync.ssh: required with target ssh: { host: "user@host[:port]" }',
    ]);
    assert.deepEqual(errs("  ssh: { host: box }"), [
      'hivesync.ssh: applies to target ssh only: add "target: ssh"',
    ]);
    assert.match(
      errs("  target: ssh\n  ssh: { host: 'a b' }").join(""),
      /^hivesync\.ssh\.host: must be user@host\[:port\]/,
    );
  });

  it("refuses placeholder secrets for a remote target, naming each, unless generated", () => {
    const spec = parse(
      `${BASE.replace("JWT_SECRET: s3cret-value-1, PORT: '4000'", "JWT_SECRET: REPLACE_ME, OPENAI_API_KEY: REPLACE_ME_TOO")}hivesync:\n  target: ssh\n  ssh: { host: root@10.0.0.5 }\n`,
    ).spec!;
    const home = tempHome();
    dirs.push(home.root);
    assert.throws(
      () => resolveHivesync("prod", spec, 0, home),
      (err: Error) =>
        /services\.backend\.env\.JWT_SECRET: is "REPLACE_ME"/.test(told(err)) &&
        /services\.backend\.env\.OPENAI_API_KEY: is "REPLACE_ME_TOO"/.test(told(err)),
    );
    assert.throws(
      () => resolveHivesync("prod", spec, 0, home, "warm", { generate: ["JWT_SECRET"] }),
      (err: Error) => /OPENAI_API_KEY/.test(told(err)),
    );
    const ok = parse(
      `${BASE}hivesync:\n  target: ssh\n  ssh: { host: root@10.0.0.5, root: /srv/app }\n`,
    ).spec!;
    const env = resolveHivesync("prod", ok, 0, home);
    assert.equal(env.dockerHost, "ssh://root@10.0.0.5:22");
    assert.equal(env.remoteRoot, "/srv/app/prod");
  });

  it("reads a linode target with the document's defaults, and refuses linode without target linode", () => {
    const r = parse(`${BASE}hivesync:\n  target: linode\n`);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.spec!.hivesync!.linode, {
      region: "us-east",
      type: "g6-standard-2",
      image: "linode/ubuntu24.04",
      readyTimeoutMs: 900_000,
    });
    const r2 = parse(
      `${BASE}hivesync:\n  target: linode\n  linode: { region: ap-south, type: g6-standard-4, image: linode/ubuntu22.04, identity_file: keys/deploy, ready_timeout: 20m }\n`,
    );
    assert.deepEqual(r2.errors, []);
    const l = r2.spec!.hivesync!.linode!;
    assert.deepEqual(
      [l.region, l.type, l.image, l.readyTimeoutMs],
      ["ap-south", "g6-standard-4", "linode/ubuntu22.04", 1_200_000],
    );
    assert.match(l.identityFile!, /^\/.*\/keys\/deploy$/);
    const errs = (block: string): string[] =>
      parse(`${BASE}hivesync:\n${block}\n`).errors.map((e) => `${e.path}: ${e.message}`);
    assert.deepEqual(errs("  linode: { region: us-east }"), [
      'hivesync.linode: applies to target linode only: add "target: linode"',
    ]);
    for (const image of [
      "linode/arch",
      "linode/debian12",
      "linode/ubuntu23.10",
      "linode/ubuntu25.04",
    ]) {
      assert.match(
        errs(`  target: linode\n  linode: { image: ${image} }`).join(""),
        /^hivesync\.linode\.image: must be an Ubuntu LTS image/,
        image,
      );
    }
    assert.match(
      errs("  target: linode\n  linode: { region: 'US East' }").join(""),
      /^hivesync\.linode\.region: must be a Linode region id/,
    );
    assert.match(
      errs("  target: linode\n  linode: { public_key: nope }").join(""),
      /^hivesync\.linode\.public_key: must be an OpenSSH public key/,
    );
    assert.match(errs("  target: linode\n  linode: { size: big }").join(""), /^hivesync\.linode/);
    assert.match(errs("  target: vps").join(""), /^hivesync\.target: /);
  });

  it("reads a linode target's deploy key: the spec's file or ENVCTL_SSH_KEY, its .pub, else ssh-keygen -y", () => {
    const home = tempHome();
    dirs.push(home.root);
    const keys = fs.mkdtempSync(path.join(home.root, "keys-"));
    const key = path.join(keys, "deploy");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "envctl-test", "-f", key]);
    const pub = fs.readFileSync(`${key}.pub`, "utf8").trim();
    const spec = (extra: string): ReturnType<typeof parse>["spec"] =>
      parse(`${BASE}hivesync:\n  target: linode\n  linode: { ${extra} }\n`).spec!;
    const withKey = resolveHivesync("prod", spec(`identity_file: ${key}`)!, 0, home);
    assert.equal(withKey.hivesync!.linode!.publicKey, pub);
    assert.equal(withKey.hivesync!.linode!.keyFile, key);
    assert.equal(withKey.dockerHost, undefined, "the VM's address is an output of the stack");
    assert.equal(withKey.remoteRoot, "/opt/hivesync/prod");
    assert.equal(withKey.hostId, "envctl-prod", "the VM's catalog host: envctl host show lists it");
    // No .pub: derived from the private key, the same public key (the comment may go).
    fs.rmSync(`${key}.pub`);
    const derived = resolveHivesync("prod", spec(`identity_file: ${key}`)!, 0, home);
    const keyPart = (k: string): string => k.split(" ").slice(0, 2).join(" ");
    assert.equal(keyPart(derived.hivesync!.linode!.publicKey), keyPart(pub));
    assert.match(keyPart(pub), /^ssh-ed25519 AAAA/);
    // ENVCTL_SSH_KEY when the spec names none; then the endpoint names no identity of its own.
    const saved = process.env.ENVCTL_SSH_KEY;
    try {
      process.env.ENVCTL_SSH_KEY = key;
      const fromEnv = resolveHivesync("prod", spec("region: us-east")!, 0, home);
      assert.equal(fromEnv.hivesync!.linode!.keyFile, key);
      assert.equal(fromEnv.hivesync!.linode!.identityFile, undefined);
      delete process.env.ENVCTL_SSH_KEY;
      assert.throws(
        () => resolveHivesync("prod", spec("region: us-east")!, 0, home),
        (err: Error & { exitCode?: number }) =>
          /^hivesync\.linode\.identity_file: required/.test(err.message) && err.exitCode === 2,
      );
      assert.throws(
        () => resolveHivesync("prod", spec(`identity_file: ${key}.missing`)!, 0, home),
        /hivesync\.linode\.identity_file: .*deploy\.missing does not exist/,
      );
      fs.writeFileSync(`${key}.bad`, "not a key\n");
      assert.throws(
        () => resolveHivesync("prod", spec(`identity_file: ${key}.bad`)!, 0, home),
        /cannot read the public key of .*deploy\.bad/,
      );
    } finally {
      if (saved === undefined) delete process.env.ENVCTL_SSH_KEY;
      else process.env.ENVCTL_SSH_KEY = saved;
    }
    // Placeholders are refused as for an SSH host.
    const placeholder = parse(
      `${BASE.replace("JWT_SECRET: s3cret-value-1, PORT: '4000'", "JWT_SECRET: REPLACE_ME")}hivesync:\n  target: linode\n  linode: { identity_file: ${key} }\n`,
    ).spec!;
    assert.throws(
      () => resolveHivesync("prod", placeholder, 0, home),
      (err: Error) => /services\.backend\.env\.JWT_SECRET: is "REPLACE_ME"/.test(told(err)),
    );
    // envctl's own http/tcp probes would come from this machine, through the VM's firewall.
    const probed = parse(
      `${BASE.replace("image: app:1, env: { JWT_SECRET", "image: app:1, ports: [4000], health: { http: /health, port: 4000 }, env: { JWT_SECRET")}hivesync:\n  target: linode\n  linode: { identity_file: ${key} }\n`,
    ).spec!;
    assert.throws(
      () => resolveHivesync("prod", probed, 0, home),
      (err: Error) =>
        /services\.backend\.health: an http check is probed from this machine .* lets in 22, 80 and 443/.test(
          told(err),
        ),
    );
  });

  it("finds the Linode plugin on PATH or cached at 5.1.1 or a newer 5.x, and nothing else", async () => {
    const { findPlugin } = await import("../../lib/doctor/plugins");
    const { linodeProblem } = await import("../../lib/doctor/linode");
    const home = tempHome();
    dirs.push(home.root);
    const base = { HOME: home.root, PATH: "/nonexistent", PULUMI_HOME: path.join(home.root, "p") };
    const plugin = (dir: string): string => {
      const d = path.join(home.root, "p", "plugins", dir);
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, "pulumi-resource-linode"), "", { mode: 0o755 });
      return path.join(d, "pulumi-resource-linode");
    };
    plugin("resource-linode-v4.30.0");
    plugin("resource-linode-v6.0.0");
    plugin("resource-linode-v5.0.9");
    assert.equal(findPlugin("linode", "5.1.1", base), undefined);
    assert.match(linodeProblem(base)!, /pulumi plugin install resource linode v5\.1\.1/);
    const good = plugin("resource-linode-v5.2.0");
    assert.equal(findPlugin("linode", "5.1.1", base), good);
    assert.equal(linodeProblem(base), undefined);
    assert.equal(findPlugin("aws", "7.48.0", base), undefined, "another provider's name");
  });

  it("records a linode env's endpoint from the stack's outputs, keeping the last one when an update failed", () => {
    const linode = { hivesync: { target: "linode" } } as unknown as Parameters<
      typeof withEngine
    >[0];
    const out = { host: { address: "203.0.113.10", dockerHost: "ssh://root@203.0.113.10:22" } };
    assert.equal(withEngine(linode, out).dockerHost, "ssh://root@203.0.113.10:22");
    const before = { ...linode, dockerHost: "ssh://root@198.51.100.1:22" };
    assert.equal(withEngine(linode, undefined, before).dockerHost, "ssh://root@198.51.100.1:22");
    assert.equal(withEngine(linode, undefined, null).dockerHost, undefined);
    const ssh = {
      hivesync: { target: "ssh" },
      dockerHost: "ssh://root@10.0.0.5:22",
    } as unknown as Parameters<typeof withEngine>[0];
    assert.equal(withEngine(ssh, out), ssh, "an SSH target's endpoint is the spec's");
    // The VM as a catalog host once its address is known; none for other targets.
    const vm = { ...linode, hostId: "envctl-prod" } as typeof linode;
    assert.deepEqual(vmHost(vm, out), {
      id: "envctl-prod",
      host: "203.0.113.10",
      port: 2375,
      sshHost: "203.0.113.10",
      sshPort: 22,
      sshUser: "root",
      status: "online",
    });
    assert.equal(vmHost(vm, {}), undefined, "no address yet");
    assert.equal(vmHost({ ...ssh, hostId: "box" }, out), undefined);
  });

  it("keeps a linode env's VM in the host catalog: added, moved, left when not its own, removed once unused", async () => {
    const { syncVmHost } = await import("../../cli/commands/apply");
    const { openCatalog } = await import("../../lib/catalog/catalog");
    const home = tempHome();
    dirs.push(home.root);
    const catalog = openCatalog(home.root);
    const logged: string[] = [];
    const log = (l: string): void => void logged.push(l);
    try {
      const linode = {
        name: "prod",
        hostId: "envctl-prod",
        hivesync: { target: "linode" },
      } as unknown as ResolvedEnv;
      const at = (ip: string): Record<string, unknown> => ({
        host: { address: ip, dockerHost: `ssh://root@${ip}:22` },
      });
      const recorded = (ip: string): ResolvedEnv => ({
        ...linode,
        dockerHost: `ssh://root@${ip}:22`,
      });
      syncVmHost(catalog, linode, at("203.0.113.10"), null, log);
      assert.equal(catalog.hosts.get("envctl-prod")?.sshHost, "203.0.113.10");
      // A new VM (replaced) at another address: the row moves with it.
      syncVmHost(catalog, linode, at("203.0.113.11"), recorded("203.0.113.10"), log);
      assert.equal(catalog.hosts.get("envctl-prod")?.host, "203.0.113.11");
      // The env moved to an SSH host: its VM is gone, and so is the row.
      const ssh = {
        ...linode,
        hivesync: { target: "ssh" },
        hostId: undefined,
      } as unknown as ResolvedEnv;
      syncVmHost(catalog, ssh, {}, recorded("203.0.113.11"), log);
      assert.equal(catalog.hosts.get("envctl-prod"), undefined);
      // A host of that id added by hand is not the VM: left as it is, with a warning.
      catalog.hosts.add({ id: "envctl-prod", host: "10.9.8.7", port: 2375, sshHost: "10.9.8.7" });
      syncVmHost(catalog, linode, at("203.0.113.12"), null, log);
      assert.equal(catalog.hosts.get("envctl-prod")?.host, "10.9.8.7");
      assert.match(logged.join("\n"), /host envctl-prod of the catalog is not this env's VM/);
    } finally {
      catalog.close();
    }
  });

  it("refuses the hivesync block on another kind", () => {
    const r = parse(BASE.replace("kind: hivesync", "kind: devenv") + "hivesync: {}\n");
    assert.deepEqual(
      r.errors.map((e) => `${e.path}: ${e.message}`),
      ['hivesync: applies to the hivesync kind only: add "kind: hivesync"'],
    );
  });
});

describe("the rollback target kept across deploys (lib/kinds/hivesync/deploys.ts)", () => {
  // An engine on a file backend whose pulumi cannot run: a path that needs a pulumi process
  // throws at once, so a resolved call proves none ran.
  const engineAt = (
    project: string,
    opts: { passphrase?: string; backend?: string } = {},
  ): Engine =>
    ({
      project,
      pulumi: "/nonexistent/pulumi",
      env: {
        ...(opts.passphrase === undefined ? {} : { PULUMI_CONFIG_PASSPHRASE: opts.passphrase }),
        PULUMI_BACKEND_URL: opts.backend ?? `file://${project}`,
      },
    }) as unknown as Engine;
  const deploy = (secret: string, over: Partial<ResolvedEnv> = {}): Deploy => ({
    env: { name: "prod", state: "warm", services: [], ...over } as unknown as ResolvedEnv,
    secrets: { secret_jwt_secret: secret },
  });
  /** The stack's checkpoint as a file backend keeps it, with its deploy record's ciphertext. */
  const checkpoint = (project: string, ciphertext: string): void => {
    const dir = path.join(project, ".pulumi", "stacks", "envctl");
    fs.mkdirSync(dir, { recursive: true });
    const deployOut = {
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      ciphertext,
    };
    const root = {
      urn: "urn:pulumi:prod::envctl::pulumi:pulumi:Stack::envctl-prod",
      type: "pulumi:pulumi:Stack",
      outputs: { deploy: deployOut },
    };
    fs.writeFileSync(
      path.join(dir, "prod.json"),
      JSON.stringify({ version: 3, checkpoint: { stack: "prod", latest: { resources: [root] } } }),
    );
  };

  it("an up of the deploy this home last recorded costs no pulumi process; another deploy, or another home's since, does", async () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-deploys-"));
    dirs.push(project);
    const file = path.join(project, "Pulumi.prod.yaml");
    fs.writeFileSync(file, "config:\n  envctl:kind: hivesync\n");
    const config = (): Record<string, string> =>
      (YAML.parse(fs.readFileSync(file, "utf8")) as { config: Record<string, string> }).config;
    const engine = engineAt(project, { passphrase: "pass-1" });
    checkpoint(project, "v1:first");
    deployed(engine, "prod", deploy("s-1"));
    assert.match(config()[DEPLOYED_KEY]!, /^[0-9a-f]{32}:[0-9a-f]{16}$/);
    assert.ok(!fs.readFileSync(file, "utf8").includes("s-1"), "a keyed digest, not the value");
    // The same deploy (cool and warm are not deploys): nothing to do, no process.
    await rememberPrevious(engine, "prod", deploy("s-1"));
    await rememberPrevious(engine, "prod", deploy("s-1", { state: "cold" }));
    // Another secret value: the stack's record is read (pulumi is missing here, so it throws),
    // and the digest goes first, so a deploy that fails midway is never taken for done.
    await assert.rejects(rememberPrevious(engine, "prod", deploy("s-2")));
    assert.ok(!(DEPLOYED_KEY in config()));
    // Another home sharing the backend deployed since: its record differs, so the full path.
    deployed(engine, "prod", deploy("s-1"));
    checkpoint(project, "v1:written-by-another-home");
    await assert.rejects(rememberPrevious(engine, "prod", deploy("s-1")));
    // Another passphrase keys another digest: never a match by chance.
    checkpoint(project, "v1:first");
    deployed(engine, "prod", deploy("s-1"));
    await assert.rejects(
      rememberPrevious(engineAt(project, { passphrase: "pass-2" }), "prod", deploy("s-1")),
    );
    // No passphrase, or a backend whose record only pulumi reads (S3): never skipped.
    deployed(engineAt(project), "prod", deploy("s-1"));
    assert.ok(!(DEPLOYED_KEY in config()));
    const s3 = engineAt(project, { passphrase: "pass-1", backend: "s3://bucket" });
    deployed(s3, "prod", deploy("s-1"));
    assert.ok(!(DEPLOYED_KEY in config()));
    await assert.rejects(rememberPrevious(s3, "prod", deploy("s-1")));
  });

  it("a linode env's recorded endpoint does not make a deploy another one; an SSH host does", () => {
    const linode = { target: "linode" } as unknown as ResolvedEnv["hivesync"];
    const ssh = { target: "ssh" } as unknown as ResolvedEnv["hivesync"];
    const vm = "ssh://root@203.0.113.10:22";
    assert.ok(
      sameDeploy(
        deploy("s", { hivesync: linode, dockerHost: vm }),
        deploy("s", { hivesync: linode }),
      ),
    );
    assert.ok(
      !sameDeploy(
        deploy("s", { hivesync: ssh, dockerHost: vm }),
        deploy("s", { hivesync: ssh, dockerHost: "ssh://root@10.0.0.5:22" }),
      ),
    );
    assert.ok(!sameDeploy(deploy("s", { hivesync: linode }), deploy("t", { hivesync: linode })));
  });
});

describe("hivesync secrets", () => {
  it("takes *_SECRET, *_PASSWORD, *_KEY, *_TOKEN and the spec's own, and nothing else", () => {
    for (const v of [
      "JWT_SECRET",
      "POSTGRES_PASSWORD",
      "OPENAI_API_KEY",
      "GITHUB_TOKEN",
      "OBJECT_STORAGE_ACCESS_KEY",
      "TOKEN",
    ]) {
      assert.ok(isSecretVar(v), v);
    }
    for (const v of [
      "PREVIEW_TOKEN_TTL_SECONDS",
      "KEYBOARD",
      "POSTGRES_USER",
      "SECRETARY",
      "BASE_URL",
    ]) {
      assert.ok(!isSecretVar(v), v);
    }
    assert.ok(isSecretVar("DSN", ["DSN"]));
  });

  const svc = (name: string, env: Record<string, string>): ResolvedService =>
    ({ name, type: "container", env }) as unknown as ResolvedService;

  it("gives services reading one env file the same token, and keeps the value out of the env", () => {
    const split = splitSecrets([
      svc("backend", { JWT_SECRET: "value-one", PORT: "4000" }),
      svc("worker", { JWT_SECRET: "value-one" }),
      svc("other", { JWT_SECRET: "value-two" }),
    ]);
    const [b, w, o] = split.services.map((s) => s.env.JWT_SECRET!);
    assert.equal(b, w);
    assert.notEqual(b, o);
    assert.deepEqual(split.values, {
      secret_jwt_secret: "value-one",
      secret_jwt_secret_2: "value-two",
    });
    assert.equal(split.services[0]!.env.PORT, "4000");
    assert.doesNotMatch(JSON.stringify(split.services), /value-one|value-two/);
    assert.deepEqual(tokensIn(b!), ["secret_jwt_secret"]);
    assert.equal(fillTokens(b!, split.values), "value-one");
  });

  it("swaps a secret inside another variable (a password in a URL) too", () => {
    const split = splitSecrets([
      svc("backend", { POSTGRES_PASSWORD: "hunter22", DATABASE_URL: "postgres://u:hunter22@db/x" }),
    ]);
    const url = split.services[0]!.env.DATABASE_URL!;
    assert.equal(url, `postgres://u:${outputToken("secret_postgres_password")}@db/x`);
    assert.equal(fillTokens(url, split.values), "postgres://u:hunter22@db/x");
  });

  it("fills generated variables from their own token, whatever the env file says", () => {
    const split = splitSecrets(
      [svc("backend", { JWT_SECRET: "REPLACE_ME", PREVIEW_TOKEN_SECRET: "REPLACE_ME" })],
      [],
      ["JWT_SECRET"],
    );
    assert.deepEqual(split.generated, { JWT_SECRET: "generated_jwt_secret" });
    assert.equal(split.services[0]!.env.JWT_SECRET, outputToken("generated_jwt_secret"));
    assert.deepEqual(split.values, { secret_preview_token_secret: "REPLACE_ME" });
  });

  it("makes strong generated values: 64 url-safe characters, never the same twice", () => {
    const a = strongSecret();
    assert.match(a, /^[A-Za-z0-9_-]{64}$/);
    assert.notEqual(a, strongSecret());
  });

  it("resolves an env whose stored form holds no secret value", () => {
    const r = parse(BASE);
    const home = tempHome();
    dirs.push(home.root);
    const env = resolveHivesync("prod", r.spec!, 0, home);
    assert.equal(env.kind, "hivesync");
    assert.deepEqual(env.hivesync!.secrets, ["secret_jwt_secret"]);
    assert.doesNotMatch(JSON.stringify(env), /s3cret-value-1/);
  });
});

describe("the hivesync health check's verdict", () => {
  const spec: HealthSpec = {
    postgres: "postgres",
    redis: "redis",
    queues: ["preview_build", "cleanup"],
    heartbeats: "hivesync:heartbeat:*",
    maxHeartbeatAgeMs: 60_000,
    maxQueueDepth: 100,
    timeoutMs: 1000,
  };
  const redis = (out: string): ReturnType<typeof parseRedis> => parseRedis(out);
  const healthy =
    "PONG\n1000\nqueue preview_build 2\nqueue cleanup 0\nhb hivesync:heartbeat:w1 995\n";

  it("parses what the redis script printed", () => {
    assert.deepEqual(redis(healthy), {
      ok: true,
      detail: "PONG",
      now: 1000,
      queues: { preview_build: 2, cleanup: 0 },
      heartbeats: { "hivesync:heartbeat:w1": 995 },
    });
    assert.deepEqual(redis("Could not connect to Redis at 127.0.0.1:6379: Connection refused\n"), {
      ok: false,
      detail: "Could not connect to Redis at 127.0.0.1:6379: Connection refused",
    });
  });

  it("is ok with both stores up, short queues and a fresh heartbeat", () => {
    const r = judge({ postgres: { ok: true, detail: "OK" }, redis: redis(healthy) }, spec);
    assert.equal(r.status, "ok");
    assert.deepEqual(r.workers, [{ id: "w1", ageSeconds: 5 }]);
    assert.deepEqual(r.queues, { preview_build: 2, cleanup: 0 });
    assert.equal(STATUS_EXIT[r.status], 0);
  });

  it("is degraded by a stale heartbeat, no heartbeat, or a long queue, naming each", () => {
    const stale = judge(
      { postgres: { ok: true, detail: "OK" }, redis: redis(healthy.replace("995", "900")) },
      spec,
    );
    assert.equal(stale.status, "degraded");
    assert.deepEqual(stale.reasons, ["worker w1: last heartbeat 100s ago (more than 60s)"]);
    const none = judge(
      { postgres: { ok: true, detail: "OK" }, redis: redis("PONG\n1000\n") },
      spec,
    );
    assert.deepEqual(none.reasons, ["no worker heartbeat"]);
    const long = judge(
      {
        postgres: { ok: true, detail: "OK" },
        redis: redis(healthy.replace("preview_build 2", "preview_build 101")),
      },
      spec,
    );
    assert.deepEqual(long.reasons, ["queue preview_build holds 101 jobs (more than 100)"]);
    assert.equal(STATUS_EXIT.degraded, 3);
  });

  it("fails when Postgres or Redis does not answer, whatever else holds", () => {
    const r = judge(
      { postgres: { ok: false, detail: "connection refused" }, redis: redis(healthy) },
      spec,
    );
    assert.equal(r.status, "fail");
    assert.deepEqual(r.reasons, ["postgres: connection refused"]);
    const r2 = judge(
      { postgres: { ok: true, detail: "OK" }, redis: { ok: false, detail: "down" } },
      spec,
    );
    assert.equal(r2.status, "fail");
    assert.deepEqual(r2.workers, []);
    assert.equal(STATUS_EXIT.fail, 1);
  });
});

describe("the hivesync proxy", () => {
  const spec = parse(
    `${BASE.replace("backend: { image: app:1, env: { JWT_SECRET: s3cret-value-1, PORT: '4000' } }", "backend: { image: app:1, ports: [4000], env: { JWT_SECRET: s3cret-value-1, BASE_URL: 'http://localhost:4000' } }")}hivesync:\n  proxy: { domain: app.example.com }\n`,
  );

  it("defaults to Caddy on 80/443 with TLS in front of backend:4000", () => {
    assert.deepEqual(spec.errors, []);
    assert.deepEqual(spec.spec!.hivesync!.proxy, {
      domain: "app.example.com",
      service: "backend",
      port: 4000,
      tls: true,
      httpPort: 80,
      httpsPort: 443,
      image: "caddy:2",
    });
  });

  it("unpublishes the proxied service, rolls it out start-first, points BASE_URL at the site, adds the proxy", () => {
    const home = tempHome();
    dirs.push(home.root);
    const env = resolveHivesync("prod", spec.spec!, 0, home);
    const backend = env.services.find((s) => s.name === "backend")!;
    assert.deepEqual(backend.ports, []);
    assert.equal(backend.type === "container" && backend.rollout, "start-first");
    assert.equal(backend.env.BASE_URL, "https://app.example.com");
    const proxy = env.services.find((s) => s.name === "proxy")!;
    assert.equal(proxy.type === "container" && proxy.image, "caddy:2");
    assert.deepEqual(
      proxy.ports.map((p) => [p.container, p.host]),
      [
        [80, 80],
        [443, 443],
      ],
    );
    assert.deepEqual(proxy.dependsOn, ["backend"]);
    assert.equal(env.services.find((s) => s.name === "worker")!.env.BASE_URL, undefined);
  });

  it("writes a Caddyfile per route: automatic TLS for a domain, plain HTTP when asked", () => {
    assert.equal(
      caddyfile({
        domain: "app.example.com",
        tls: true,
        upstream: "envctl-prod-backend-a1b2c3",
        port: 4000,
        email: "ops@example.com",
      }),
      "{\n\temail ops@example.com\n}\n\napp.example.com {\n\treverse_proxy envctl-prod-backend-a1b2c3:4000 {\n\t\tlb_try_duration 10s\n\t\tlb_try_interval 100ms\n\t}\n}\n",
    );
    assert.match(
      caddyfile({ domain: "localhost", tls: false, upstream: "b", port: 4000 }),
      /^http:\/\/localhost \{\n/,
    );
    assert.equal(
      siteUrl({ domain: "x.test", tls: false, httpPort: 8080 } as never),
      "http://x.test:8080",
    );
    assert.equal(
      siteUrl({ domain: "x.test", tls: true, httpsPort: 443 } as never),
      "https://x.test",
    );
  });

  it("refuses a proxied service that is not there, a bad domain, or a service named proxy", () => {
    const bad = (block: string, extra = ""): string[] =>
      parse(`${BASE}${extra}hivesync:\n${block}\n`).errors.map((e) => `${e.path}: ${e.message}`);
    assert.match(
      bad("  proxy: { domain: app.example.com, service: web }").join("\n"),
      /^hivesync\.proxy\.service: unknown service "web"/m,
    );
    assert.match(
      bad("  proxy: { domain: 'not a domain' }").join("\n"),
      /^hivesync\.proxy\.domain: must be a host name/m,
    );
    assert.deepEqual(bad("  proxy: { domain: a.example.com }"), []);
    const taken = parse(
      `${BASE.replace("  redis: { image: redis:7 }", "  redis: { image: redis:7 }\n  proxy: { image: nginx:1 }")}hivesync:\n  proxy: { domain: a.example.com }\n`,
    );
    assert.deepEqual(
      taken.errors.map((e) => `${e.path}: ${e.message}`),
      ["services.proxy: the name is taken by hivesync.proxy's own service: rename this service"],
    );
  });
});

describe("restore stops what uses the database", () => {
  it("stops its dependents, direct and through others, but not the proxy or one-off containers", () => {
    const svc = (name: string, dependsOn: string[], conditions?: Record<string, string>) => ({
      name,
      type: "container",
      dependsOn,
      env: {},
      ports: [],
      ...(conditions ? { conditions } : {}),
    });
    const env = {
      services: [
        svc("postgres", []),
        svc("redis", []),
        svc("data-init", []),
        svc("backend", ["postgres", "redis", "data-init"], { "data-init": "completed" }),
        svc("worker", ["postgres", "redis"]),
        svc("frontend", ["backend"]),
        svc("proxy", ["backend"]),
        svc("migrate", ["postgres"], { postgres: "healthy" }),
      ],
    };
    assert.deepEqual(dependentsOf(env as never, "postgres"), [
      "backend",
      "worker",
      "frontend",
      "migrate",
    ]);
  });
});
