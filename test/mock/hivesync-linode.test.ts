/**
 * The hivesync program (stacks/hivesync.ts) with `target: linode` under Pulumi mocks. The mocks
 * stand in for the Linode API (its provider plugin cannot be installed on these machines) and
 * for the Docker engine on the VM (the real path over SSH runs in test/e2e/hivesync-ssh.test.ts
 * against a host of the tests' own): the program makes the VM first, then every Docker object of
 * the env on the VM's address, each waiting for the VM's readiness check; the worktree and the
 * env's secrets do not wait for it; the env's outputs carry the endpoint the CLI records.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { resolveWithSecrets } from "../../lib/kinds/hivesync/resolve";
import { parseSpecText } from "../../lib/spec/load";
import type { ResolvedEnv } from "../../lib/spec/model";
import { makeRepo, tempHome } from "../support/env";
import { captureRpc, key, resolved, stateFor, T, type SentRegistration } from "./harness";

const L = {
  Host: "envctl:hivesync:LinodeHost",
  Instance: "linode:index/instance:Instance",
  Firewall: "linode:index/firewall:Firewall",
  Key: "linode:index/sshKey:SshKey",
  Ready: "pulumi-nodejs:dynamic/envctl:HostReady",
  Step: "pulumi-nodejs:dynamic/envctl:DeployStep",
  Health: "pulumi-nodejs:dynamic/envctl:HealthGate",
  Secret: "pulumi-nodejs:dynamic/envctl:GeneratedSecret",
  Route: "pulumi-nodejs:dynamic/envctl:ProxyRoute",
};
const IPV4 = "203.0.113.10";
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyForTests envctl-deploy";

const SPEC = [
  "kind: hivesync",
  "services:",
  "  backend:",
  "    build: .",
  "    ports: ['4000']",
  "    env: { JWT_SECRET: s3cret-value-1, DATABASE_URL: 'postgresql://app:pg-pass-1@postgres/app', POSTGRES_PASSWORD: pg-pass-1, PREVIEW_TOKEN_SECRET: REPLACE_ME }",
  "    volumes: ['./data:/data']",
  "    depends_on: [postgres]",
  "  postgres:",
  "    image: postgres:16",
  "    env: { POSTGRES_PASSWORD: pg-pass-1 }",
  "    volumes: ['pgdata:/var/lib/postgresql/data']",
  "volumes: { pgdata: {} }",
  "hivesync:",
  "  target: linode",
  "  linode: { region: eu-central, identity_file: keys/deploy, public_key: '" + PUBLIC_KEY + "' }",
  "  generate: [PREVIEW_TOKEN_SECRET]",
  "  proxy: { domain: app.example.com }",
  "  deploy:",
  "    after: [{ service: backend, run: alembic upgrade head }]",
  "",
].join("\n");

interface Reg {
  type: string;
  inputs: Record<string, unknown>;
  sent: SentRegistration;
}

describe("the hivesync program on a linode target, under mocks", () => {
  const dirs: string[] = [];
  const regs = new Map<string, Reg>();
  let env: ResolvedEnv;
  let outputs: Record<string, unknown>;
  let keyFile: string;

  before(async () => {
    const repo = makeRepo({ files: { "envctl.yaml": SPEC, "keys/deploy": "private\n" } });
    const home = tempHome();
    dirs.push(repo, home.root);
    keyFile = path.join(repo, "keys", "deploy");
    const r = parseSpecText(SPEC, { file: path.join(repo, "envctl.yaml") });
    assert.deepEqual(r.errors, []);
    // --generate-secrets: the placeholder is filled on the way, so the remote target takes it.
    const opts = { generate: ["PREVIEW_TOKEN_SECRET"] };
    const resolvedEnv = resolveWithSecrets("prod", r.spec!, 3, home, "warm", opts);
    env = resolvedEnv.env;
    const secrets = resolvedEnv.secrets;
    // The Linode part runs only where its plugin is (the program checks): a stand-in for it.
    const bin = path.join(home.root, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "pulumi-resource-linode"), "", { mode: 0o755 });
    process.env.PATH = `${bin}${path.delimiter}${process.env.PATH ?? ""}`;
    pulumi.runtime.setAllConfig({ "envctl:secrets": JSON.stringify(secrets) }, ["envctl:secrets"]);
    const seen = new Map<string, { type: string; inputs: Record<string, unknown> }>();
    await pulumi.runtime.setMocks({
      newResource: (a) => {
        const inputs = a.inputs as Record<string, unknown>;
        seen.set(key(a.type, a.name), { type: a.type, inputs });
        if (a.type === L.Instance) {
          return { id: "48151623", state: { ...inputs, ipv4s: [IPV4, "192.168.130.7"] } };
        }
        if (a.type === L.Secret) return { id: "s", state: { ...inputs, value: "generated-1" } };
        return {
          id: a.custom ? `${a.name}-id` : undefined,
          state: stateFor(a.type, a.name, inputs),
        };
      },
      call: (a) => {
        throw new Error(`unexpected call ${a.token}`);
      },
    });
    const rpc = captureRpc();
    const { program } = await import("../../stacks/hivesync");
    const result = program(env);
    outputs = (await resolved(result.env)) as Record<string, unknown>;
    await resolved(result.deploy);
    // Resources made inside applies register later: wait until the deploy's last one has.
    for (let i = 0; i < 200 && !rpc.has(key(L.Health, "prod-deploy-health")); i++) {
      await new Promise((res) => setTimeout(res, 10));
    }
    for (const [k, v] of seen) {
      const sent = rpc.get(k);
      assert.ok(sent, `${k} was never sent to the engine`);
      regs.set(k, { ...v, sent });
    }
  });
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  const ofType = (type: string): [string, Reg][] => [...regs].filter(([, r]) => r.type === type);
  const endpoint = (): string => `ssh://root@${IPV4}:22?identity=${encodeURIComponent(keyFile)}`;

  it("resolves the VM's settings and the deploy key, with no endpoint until the VM exists", () => {
    assert.equal(env.dockerHost, undefined);
    assert.equal(env.remoteRoot, "/opt/hivesync/prod");
    assert.deepEqual(env.hivesync!.linode, {
      region: "eu-central",
      type: "g6-standard-2",
      image: "linode/ubuntu24.04",
      publicKey: PUBLIC_KEY,
      keyFile,
      identityFile: keyFile,
      readyTimeoutMs: 900_000,
    });
  });

  it("makes the VM in the requested region with the deploy key, and its readiness check with the key file", () => {
    const vm = regs.get(key(L.Instance, "prod-host-vm"))!;
    assert.equal(vm.inputs.region, "eu-central");
    assert.equal(vm.inputs.type, "g6-standard-2");
    assert.deepEqual(vm.inputs.authorizedKeys, [PUBLIC_KEY]);
    assert.equal(
      regs.get(key(L.Firewall, "prod-host-firewall"))!.sent.parent,
      key(L.Host, "prod-host"),
    );
    const ready = regs.get(key(L.Ready, "prod-host-ready"))!;
    assert.equal(ready.inputs.address, IPV4);
    assert.equal(ready.inputs.keyFile, keyFile);
  });

  it("makes every Docker object of the env on the VM, after its readiness check", () => {
    const docker = [T.Network, T.Volume, T.Image, T.Container, L.Route].flatMap(ofType);
    assert.deepEqual(
      [T.Image, L.Route].map((t) => ofType(t).length),
      [1, 1],
      "the backend's image and the proxy's route",
    );
    // backend, postgres, and the data directories' init container; the network; pgdata.
    assert.ok(
      ofType(T.Container).length >= 2,
      ofType(T.Container)
        .map(([k]) => k)
        .join(", "),
    );
    assert.ok(ofType(T.Volume).length >= 1);
    for (const [k, r] of docker) {
      assert.equal(r.inputs.dockerHost, endpoint(), k);
      assert.ok(
        r.sent.rpcDeps.includes(key(L.Ready, "prod-host-ready")),
        `${k}: ${r.sent.rpcDeps.join(", ")}`,
      );
      assert.ok(r.sent.rpcDeps.includes(key(L.Instance, "prod-host-vm")), k);
    }
    // The checkout's bind sources are the VM's directory of the env.
    const backend = ofType(T.Container).find(([k]) => k.endsWith("prod-backend"))!;
    const mounts = JSON.stringify(backend[1].inputs);
    assert.match(mounts, /\/opt\/hivesync\/prod\/data/);
  });

  it("runs the deploy steps and the health check on the VM's Docker", () => {
    const steps = ofType(L.Step);
    assert.equal(steps.length, 1);
    assert.equal(steps[0]![1].inputs.dockerHost, endpoint());
    assert.equal(steps[0]![1].inputs.run, "alembic upgrade head");
    const health = regs.get(key(L.Health, "prod-deploy-health"))!;
    assert.equal(health.inputs.dockerHost, endpoint());
    for (const [k, r] of [...steps, [key(L.Health, "prod-deploy-health"), health] as const]) {
      assert.ok(r.sent.rpcDeps.includes(key(L.Ready, "prod-host-ready")), k);
    }
  });

  it("makes the worktree, env.sh and generated secrets without waiting for the VM", () => {
    const local = [...ofType(T.Worktree), ...ofType(T.File), ...ofType(L.Secret)];
    assert.ok(local.length >= 3, local.map(([k]) => k).join(", "));
    for (const [k, r] of local) {
      assert.ok(!r.sent.rpcDeps.some((d) => d.startsWith("linode:") || d.startsWith(L.Ready)), k);
      assert.equal(r.inputs.dockerHost, undefined, k);
    }
  });

  it("gives the container its env as one secret (values and the generated one in it), and outputs the endpoint to record", () => {
    const backend = ofType(T.Container).find(([k]) => k.endsWith("prod-backend"))!;
    assert.ok(!JSON.stringify(env).includes("s3cret-value-1"));
    assert.ok(!JSON.stringify(env).includes("pg-pass-1"));
    // Pulumi's marker of a secret value: the engine encrypts the whole env in state.
    const sent = backend[1].inputs.env as Record<string, unknown>;
    assert.equal(sent["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270");
    assert.deepEqual(sent.value, {
      DATABASE_URL: "postgresql://app:pg-pass-1@postgres/app",
      JWT_SECRET: "s3cret-value-1",
      POSTGRES_PASSWORD: "pg-pass-1",
      PREVIEW_TOKEN_SECRET: "generated-1",
    });
    assert.deepEqual(outputs.host, { address: IPV4, dockerHost: endpoint() });
  });
});
