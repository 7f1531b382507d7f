/**
 * The cloud-init user data of a hivesync Linode VM: Docker from the distribution (docker.io),
 * the compose plugin beside it for the operator's own `docker compose` (envctl itself drives the
 * VM's Docker over SSH and needs only the engine), key-only SSH, and the app's directory. The
 * VM is ready for a deploy once `cloud-init status --wait` returns and `docker info` answers.
 */
import * as YAML from "yaml";

/** Ubuntu packages Docker and the compose plugin (`docker-compose-v2`); Debian 12 has no plugin. */
export const LINODE_IMAGE = "linode/ubuntu24.04";
/** The document's size suggestion: 2 vCPU, 4 GB. */
export const LINODE_TYPE = "g6-standard-2";
export const LINODE_REGION = "us-east";
/** Where the app's files live on the VM (the document's /opt/HiveSync). */
export const REMOTE_ROOT = "/opt/hivesync";

export interface CloudInitOptions {
  /** Packages besides Docker's. */
  packages?: string[];
}

/** The `#cloud-config` document (pure). */
export function cloudInit(opts: CloudInitOptions = {}): string {
  const doc = {
    package_update: true,
    package_upgrade: true,
    packages: ["docker.io", "docker-compose-v2", ...(opts.packages ?? [])],
    ssh_pwauth: false,
    disable_root: false,
    runcmd: [
      ["systemctl", "enable", "--now", "docker"],
      ["mkdir", "-p", REMOTE_ROOT],
      [
        "sed",
        "-i",
        "s/^#\\?PasswordAuthentication .*/PasswordAuthentication no/",
        "/etc/ssh/sshd_config",
      ],
      ["systemctl", "reload", "ssh"],
    ],
    final_message: "envctl: the host is ready after $UPTIME seconds",
  };
  return `#cloud-config\n${YAML.stringify(doc, { lineWidth: 0 })}`;
}

/** base64 of the user data, as Linode's metadata service takes it. */
export function userData(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

/** A Linode label (3..64 of letters, digits, -, _, .; starting and ending alphanumeric). */
export function linodeLabel(env: string, suffix = ""): string {
  const raw = `envctl-${env}${suffix ? `-${suffix}` : ""}`.replace(/[^A-Za-z0-9_.-]+/g, "-");
  return raw.slice(0, 64).replace(/[^A-Za-z0-9]+$/, "");
}
