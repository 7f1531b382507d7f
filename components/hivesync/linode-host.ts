import * as linode from "@pulumi/linode";
import * as pulumi from "@pulumi/pulumi";
import { linodeLabel, userData } from "../../lib/kinds/hivesync/cloud-init";
import { EnvctlResource } from "../shared/dynamic";

export interface LinodeHostArgs {
  /** The env the VM is for: its labels and tags carry the name. */
  env: string;
  /** @default "us-east" */
  region: string;
  /** @default "g6-standard-2" */
  type: string;
  /** An Ubuntu LTS image with cloud-init (its Docker packages). @default "linode/ubuntu24.04" */
  image: string;
  /** The deploy key's public half (OpenSSH format): root's authorized key. */
  sshPublicKey: string;
  /** The `#cloud-config` document (lib/kinds/hivesync/cloud-init.ts). */
  cloudInit: string;
  /** The deploy key's private half (a file), for the readiness check over SSH. */
  sshKeyFile: string;
  /** How long the VM may take to answer SSH and run Docker. @default 900000 (15 minutes) */
  readyTimeoutMs?: number;
}

/** The ports the firewall lets in: SSH for deploys, HTTP and HTTPS for the proxy. */
export const INBOUND = [
  { label: "ssh", ports: "22" },
  { label: "http", ports: "80" },
  { label: "https", ports: "443" },
];

/**
 * A Linode VM for one hivesync env: its deploy key, the instance (cloud-init installs Docker),
 * a firewall that drops everything inbound but 22/80/443, and a readiness check that waits for
 * SSH, cloud-init and `docker info`. Its `address` is the VM's public IPv4 (`ipv4s[0]`; the
 * `ipAddress` output is deprecated).
 */
export class LinodeHost extends pulumi.ComponentResource {
  readonly address: pulumi.Output<string>;
  readonly instance: linode.Instance;
  readonly firewall: linode.Firewall;
  /** Created once the VM answers SSH and runs Docker: deploys depend on it. */
  readonly ready: EnvctlResource;

  constructor(name: string, args: LinodeHostArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("envctl:hivesync:LinodeHost", name, {}, opts);
    const tags = ["envctl", `envctl-env-${args.env}`];
    const key = new linode.SshKey(
      `${name}-key`,
      { label: linodeLabel(args.env, "deploy"), sshKey: args.sshPublicKey },
      { parent: this },
    );
    this.instance = new linode.Instance(
      `${name}-vm`,
      {
        label: linodeLabel(args.env),
        region: args.region,
        type: args.type,
        image: args.image,
        authorizedKeys: [key.sshKey],
        metadatas: [{ userData: userData(args.cloudInit) }],
        tags,
        booted: true,
      },
      {
        parent: this,
        // Both count at the VM's creation only, and a change would replace the VM (and the
        // app's data on it): another operator's deploy key, or a newer cloud-init, leaves it.
        ignoreChanges: ["authorizedKeys", "metadatas"],
      },
    );
    this.firewall = new linode.Firewall(
      `${name}-firewall`,
      {
        label: linodeLabel(args.env, "fw"),
        inboundPolicy: "DROP",
        outboundPolicy: "ACCEPT",
        inbounds: INBOUND.map((r) => ({
          label: r.label,
          action: "ACCEPT",
          protocol: "TCP",
          ports: r.ports,
          ipv4s: ["0.0.0.0/0"],
          ipv6s: ["::/0"],
        })),
        linodes: [this.instance.id.apply(Number)],
        tags,
      },
      { parent: this },
    );
    this.address = this.instance.ipv4s.apply((ips) => {
      const ip = ips[0];
      if (!ip) throw new Error(`the Linode VM of ${args.env} has no public IPv4 address`);
      return ip;
    });
    this.ready = new EnvctlResource(
      "HostReady",
      "hostready",
      `${name}-ready`,
      {
        address: this.address,
        user: "root",
        port: 22,
        keyFile: args.sshKeyFile,
        timeoutMs: args.readyTimeoutMs ?? 900_000,
        instance: this.instance.id,
      },
      { parent: this, dependsOn: [this.instance, this.firewall] },
    );
    this.registerOutputs({ address: this.address });
  }
}
