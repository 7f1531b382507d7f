/**
 * The cloud-init user data of a hivesync Linode VM: Docker from the distribution (docker.io),
 * the compose plugin beside it for the operator's own `docker compose` (envctl itself drives the
 * VM's Docker over SSH and needs only the engine), key-only SSH, and the app's directory. The
 * VM is ready for a deploy once `cloud-init status --wait` returns and `docker info` answers.
 */
import * as YAML from "yaml";
import { REMOTE_ROOT } from "../../spec/hivesync";

export { LINODE_IMAGE, LINODE_REGION, LINODE_TYPE, REMOTE_ROOT } from "../../spec/hivesync";

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
