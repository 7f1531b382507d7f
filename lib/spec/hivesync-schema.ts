/**
 * The `hivesync:` block of an envctl.yaml (kind: hivesync). What each field does is in
 * lib/spec/hivesync.ts; this file is only its shape, so schema.ts can include it.
 */
import { z } from "zod";
import { duration } from "./fields";

const name = z.string().min(1, "must not be empty");
/** An environment variable's name as the shell writes it. */
const VAR_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const varName = z.string().regex(VAR_RE, "must be a variable name (letters, digits and _)");

const deployStep = z.strictObject({
  /** The service whose container runs the step (`docker compose exec SERVICE …`). */
  service: name,
  /** A shell command (`sh -c`), e.g. `alembic upgrade head`. */
  run: name,
  timeout: duration.optional(),
});

const hostPort = z
  .number()
  .int("must be a whole number")
  .min(1, "must be 1..65535")
  .max(65535, "must be 1..65535");

const proxy = z.strictObject({
  /** The site's name (`app.example.com`); DNS points it at the host. */
  domain: z
    .string()
    .regex(
      /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/,
      "must be a host name such as app.example.com",
    ),
  /** The service proxied to. @default "backend" */
  service: name.optional(),
  /** Its port. @default 4000 */
  port: hostPort.optional(),
  /** Automatic HTTPS (Let's Encrypt); false serves plain HTTP. @default true */
  tls: z.boolean().optional(),
  email: z
    .string()
    .regex(/^[^@\s]+@[^@\s]+$/, "must be an email address")
    .optional(),
  http_port: hostPort.optional(),
  https_port: hostPort.optional(),
  image: name.optional(),
});

const ssh = z.strictObject({
  /** `user@host[:port]`, `host`, or a host of the catalog by id (`envctl host add`). */
  host: z
    .string()
    .regex(
      /^([A-Za-z0-9._-]+@)?[A-Za-z0-9._-]+(:\d{1,5})?$/,
      "must be user@host[:port], a host name, or a host id",
    ),
  /** The deploy key (a private key file). @default ENVCTL_SSH_KEY, else the SSH agent */
  identity_file: name.optional(),
  /** Where the app's bind sources live on the host. @default /opt/hivesync */
  root: z
    .string()
    .regex(/^\/[^\0]*$/, "must be an absolute path")
    .optional(),
});

const linode = z.strictObject({
  /** A Linode region id (`us-east`, `eu-central`, ...). @default us-east */
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z0-9]+)+$/, "must be a Linode region id such as us-east")
    .optional(),
  /** A Linode plan. @default g6-standard-2 (2 vCPU, 4 GB) */
  type: z
    .string()
    .regex(/^g\d+-[a-z0-9-]+$/, "must be a Linode plan id such as g6-standard-2")
    .optional(),
  /**
   * An Ubuntu image of Linode's (cloud-init installs `docker.io` and `docker-compose-v2`, which
   * Debian 12 does not package). @default linode/ubuntu24.04
   */
  image: z
    .string()
    .regex(
      /^linode\/ubuntu(2[2468]|[3-9][02468])\.04$/,
      "must be an Ubuntu LTS image of Linode's from 22.04 on, such as linode/ubuntu24.04 (cloud-init installs docker.io and docker-compose-v2 from Ubuntu)",
    )
    .optional(),
  /** The deploy key (a private key file). @default ENVCTL_SSH_KEY */
  identity_file: name.optional(),
  /** Its public half. @default the key file's `.pub`, else what `ssh-keygen -y` derives */
  public_key: z
    .string()
    .regex(/^(ssh-|ecdsa-)[A-Za-z0-9-]+ [A-Za-z0-9+/=]+( .*)?$/, "must be an OpenSSH public key")
    .optional(),
  /** How long a new VM may take to answer SSH and run Docker. @default 15m */
  ready_timeout: duration.optional(),
});

export const hivesyncSchema = z.strictObject({
  target: z.enum(["local", "ssh", "linode"]).optional(),
  ssh: ssh.optional(),
  linode: linode.optional(),
  proxy: proxy.optional(),
  secrets: z.array(varName).optional(),
  generate: z.array(varName).optional(),
  deploy: z
    .strictObject({
      after: z.array(deployStep).optional(),
    })
    .optional(),
  health: z
    .strictObject({
      postgres: name.optional(),
      redis: name.optional(),
      queues: z.array(name).optional(),
      heartbeats: name.optional(),
      max_heartbeat_age: duration.optional(),
      max_queue_depth: z.number().int("must be a whole number").min(0).optional(),
      timeout: duration.optional(),
    })
    .optional(),
});

export type HivesyncDoc = z.output<typeof hivesyncSchema>;
