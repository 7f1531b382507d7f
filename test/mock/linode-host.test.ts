/**
 * LinodeHost under Pulumi mocks. The mocks stand in for the Linode API: the Linode provider
 * plugin cannot be installed on these machines (its Go module is not served), so `newResource`
 * answers with the state Linode would report (numeric ids, public addresses), and the RPCs the
 * SDK sends are captured to check what each resource waits on. Real users install the plugin
 * the usual way (`pulumi plugin install resource linode 5.1.1`).
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { INBOUND, LinodeHost } from "../../components/hivesync/linode-host";
import { cloudInit, LINODE_IMAGE, LINODE_TYPE } from "../../lib/kinds/hivesync/cloud-init";
import { captureRpc, key, resolved, type SentRegistration } from "./harness";

const T = {
  Host: "envctl:hivesync:LinodeHost",
  Key: "linode:index/sshKey:SshKey",
  Instance: "linode:index/instance:Instance",
  Firewall: "linode:index/firewall:Firewall",
  Ready: "pulumi-nodejs:dynamic/envctl:HostReady",
};
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyForTests envctl-deploy";
const LINODE_ID = "48151623";
const IPV4 = "203.0.113.10";

interface Mocked {
  type: string;
  inputs: Record<string, unknown>;
}

describe("LinodeHost under mocks", () => {
  const mocked = new Map<string, Mocked>();
  const calls: string[] = [];
  let rpc: Map<string, SentRegistration>;
  let host: LinodeHost;

  before(async () => {
    await pulumi.runtime.setMocks({
      newResource: (a) => {
        const inputs = a.inputs as Record<string, unknown>;
        mocked.set(key(a.type, a.name), { type: a.type, inputs });
        switch (a.type) {
          case T.Instance:
            // ipAddress is deprecated and differs here: the component must read ipv4s[0].
            return {
              id: LINODE_ID,
              state: { ...inputs, ipv4s: [IPV4, "192.168.130.7"], ipAddress: "198.51.100.99" },
            };
          case T.Key:
            return { id: "777", state: { ...inputs, created: "2026-12-01T00:00:00" } };
          default:
            return { id: a.custom ? `${a.name}-id` : undefined, state: inputs };
        }
      },
      call: (a) => {
        calls.push(a.token);
        throw new Error(`unexpected call ${a.token}`);
      },
    });
    rpc = captureRpc();
    host = new LinodeHost("prod-host", {
      env: "prod",
      region: "eu-central",
      type: LINODE_TYPE,
      image: LINODE_IMAGE,
      sshPublicKey: PUBLIC_KEY,
      cloudInit: cloudInit(),
      sshKeyFile: "/run/secrets/deploy_key",
    });
    await resolved(host.ready.urn);
    await resolved(host.address);
  });

  it("registers the key, the VM, its firewall and the readiness check under the component", () => {
    const parent = key(T.Host, "prod-host");
    assert.deepEqual(Object.fromEntries([...rpc].map(([k, r]) => [k, r.parent])), {
      [parent]: "",
      [key(T.Key, "prod-host-key")]: parent,
      [key(T.Instance, "prod-host-vm")]: parent,
      [key(T.Firewall, "prod-host-firewall")]: parent,
      [key(T.Ready, "prod-host-ready")]: parent,
    });
    assert.deepEqual(calls, []);
  });

  it("makes a g6-standard-2 VM with the deploy key and cloud-init user data that decodes to the expected document", () => {
    const vm = mocked.get(key(T.Instance, "prod-host-vm"))!.inputs;
    assert.equal(vm.type, "g6-standard-2");
    assert.equal(vm.image, "linode/ubuntu24.04");
    assert.equal(vm.region, "eu-central");
    assert.equal(vm.label, "envctl-prod");
    assert.deepEqual(vm.authorizedKeys, [PUBLIC_KEY]);
    assert.deepEqual(vm.tags, ["envctl", "envctl-env-prod"]);
    const metadatas = vm.metadatas as { userData: string }[];
    assert.equal(metadatas.length, 1);
    const text = Buffer.from(metadatas[0]!.userData, "base64").toString("utf8");
    assert.equal(text, cloudInit());
    assert.ok(text.startsWith("#cloud-config\n"));
    const doc = YAML.parse(text) as { packages: string[]; runcmd: string[][]; ssh_pwauth: boolean };
    assert.deepEqual(doc.packages, ["docker.io", "docker-compose-v2"]);
    assert.deepEqual(doc.runcmd[0], ["systemctl", "enable", "--now", "docker"]);
    assert.equal(doc.ssh_pwauth, false);
    const key_ = mocked.get(key(T.Key, "prod-host-key"))!.inputs;
    assert.deepEqual(key_, { label: "envctl-prod-deploy", sshKey: PUBLIC_KEY });
    // Another operator's key or a newer cloud-init never replaces the VM and its data.
    assert.deepEqual(rpc.get(key(T.Instance, "prod-host-vm"))!.ignoreChanges, [
      "authorizedKeys",
      "metadatas",
    ]);
    // The key is an input of the VM: Linode gets it before the VM is made.
    assert.deepEqual(rpc.get(key(T.Instance, "prod-host-vm"))!.propertyDeps.authorizedKeys, [
      key(T.Key, "prod-host-key"),
    ]);
  });

  it("drops everything inbound but 22, 80 and 443, on the VM's numeric id", () => {
    const fw = mocked.get(key(T.Firewall, "prod-host-firewall"))!.inputs;
    assert.equal(fw.inboundPolicy, "DROP");
    assert.equal(fw.outboundPolicy, "ACCEPT");
    assert.deepEqual(fw.linodes, [Number(LINODE_ID)]);
    assert.deepEqual(
      (fw.inbounds as Record<string, unknown>[]).map((r) => [
        r.label,
        r.action,
        r.protocol,
        r.ports,
        r.ipv4s,
        r.ipv6s,
      ]),
      INBOUND.map((r) => [r.label, "ACCEPT", "TCP", r.ports, ["0.0.0.0/0"], ["::/0"]]),
    );
    assert.deepEqual(
      INBOUND.map((r) => r.ports),
      ["22", "80", "443"],
    );
    assert.deepEqual(rpc.get(key(T.Firewall, "prod-host-firewall"))!.propertyDeps.linodes, [
      key(T.Instance, "prod-host-vm"),
    ]);
  });

  it("deploys to ipv4s[0] once the VM and its firewall exist", async () => {
    assert.equal(await resolved(host.address), IPV4);
    const ready = mocked.get(key(T.Ready, "prod-host-ready"))!.inputs;
    assert.equal(ready.address, IPV4);
    assert.equal(ready.user, "root");
    assert.equal(ready.keyFile, "/run/secrets/deploy_key");
    const deps = rpc.get(key(T.Ready, "prod-host-ready"))!.rpcDeps;
    assert.ok(deps.includes(key(T.Instance, "prod-host-vm")), deps.join(", "));
    assert.ok(deps.includes(key(T.Firewall, "prod-host-firewall")), deps.join(", "));
  });
});
