/**
 * The normalized environment model. Every spec source (envctl.yaml, presets, compose files)
 * is turned into this shape before anything else looks at it.
 */

/** A dot-path located problem in a spec, e.g. `services.web.ports[0]: must be 1..65535`. */
export interface SpecIssue {
  /** Dot-path of the offending field (`services.web.ports[0]`), or `""` for the document. */
  path: string;
  /** What is wrong, as a sentence fragment. */
  message: string;
  /** The file it is in when that is not the spec itself: a compose file, an env file (base name). */
  file?: string;
  /** Line (and column) in `file`, for problems that have no dot-path (YAML syntax, env files). */
  line?: number;
  column?: number;
}

export type HealthKind = "command" | "http" | "tcp";

export interface HealthCheck {
  kind: HealthKind;
  /** Shell command run inside the container (kind `command`). */
  command?: string;
  /**
   * Docker's own form of a `command` check, kept as written: `["CMD", "pg_isready"]` runs with
   * no shell (images without /bin/sh), `["CMD-SHELL", "..."]` through one. Absent: CMD-SHELL
   * of `command`.
   */
  test?: string[];
  /** HTTP path probed on the published port (kind `http`). */
  path?: string;
  /** Container port probed through its host port (kinds `http` and `tcp`). */
  port?: number;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
  /** Probe interval during the start period (Docker's start_interval); absent: Docker's. */
  startIntervalMs?: number;
}

export interface PortMapping {
  /**
   * Port inside the container, mapped from the host port. For a process (`port:` in the spec)
   * the port's number: it names the port and picks the default offset, but the process listens
   * on the host port itself (it gets it in $PORT / $PORT_<number>).
   */
  container: number;
  /** Offset of the host port inside the env's port block (default: container % 1000). */
  offset: number;
  protocol: "tcp" | "udp";
  /** Host address the port is published on (`127.0.0.1:8001:8000`); absent: every address. */
  hostIp?: string;
  /**
   * The host port is the port itself, outside the block and the same in every env (an
   * A3sfile's `port`: the program listens where its config says). Process services only.
   */
  fixed?: boolean;
}

export interface VolumeMount {
  /** Volume name (kind `volume`, namespaced per env later) or absolute host path (kind `bind`). */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  /** `tmpfs` mounts have no source (`""`). */
  kind: "volume" | "bind" | "tmpfs";
  readOnly: boolean;
  /** A named volume is not filled from the image's content at the target (`nocopy`). */
  noCopy?: boolean;
  /** tmpfs size in bytes. */
  tmpfsSize?: number;
  /** tmpfs mode (octal bits). */
  tmpfsMode?: number;
}

/** A named volume declared by the spec (compose's top-level `volumes`). */
export interface VolumeDecl {
  /** Not created nor removed by envctl: the volume of this Docker name must exist. */
  external?: boolean;
  /** The Docker name of an external volume. */
  name?: string;
  driver?: string;
  driverOpts?: Record<string, string>;
  labels?: Record<string, string>;
}

/** A file put into the container before it starts (compose secrets and configs). */
export interface ContainerFile {
  /** Absolute path in the container. */
  target: string;
  /** Contents (a secret or config given by value or environment variable). */
  content: string;
  /** Permission bits. @default 0o444 */
  mode?: number;
  uid?: string;
  gid?: string;
}

export interface BuildContext {
  /** Absolute path of the build context directory. */
  context: string;
  /** Dockerfile path relative to the context. */
  dockerfile: string;
  args: Record<string, string>;
  /** Multi-stage target. */
  target?: string;
  /** Dockerfile contents given in the spec (compose `dockerfile_inline`); `dockerfile` is unused. */
  dockerfileInline?: string;
  /**
   * Named contexts (`COPY --from=NAME`, `FROM NAME`): a directory (absolute path), an image
   * (`docker-image://REF`) or another service's image (`service:NAME`).
   */
  additionalContexts?: Record<string, string>;
  /** The image name the build is tagged with too (compose `image` next to `build`). */
  tag?: string;
}

/** `ulimits` of a container, e.g. `{ nofile: { soft: 65536, hard: 65536 } }`. */
export type Ulimits = Record<string, { soft: number; hard: number }>;

interface ServiceBase {
  name: string;
  env: Record<string, string>;
  ports: PortMapping[];
  health?: HealthCheck;
  /** Names of services that must be ready (by `conditions`) before this one starts. */
  dependsOn: string[];
  /**
   * How each dependency must be ready: `healthy` (the default: passing its health check, or
   * running when it has none), `started` (created and started, no wait for health) or
   * `completed` (a one-off container that ran to exit 0).
   */
  conditions?: Record<string, DependCondition>;
  /** Keeps running while the env is cold (watchers, SDK builds); others run only when warm. */
  cold: boolean;
  /**
   * The proxy routes `<subdomain>.<env>.localhost` (and `<subdomain>.localhost` while no other
   * running env has it) to the service's first port. @default none: not routed
   */
  subdomain?: string;
}

/** What the supervisor does when a process service exits or stays unhealthy. */
export type RestartPolicy = "no" | "on-failure" | "always";

/** File watching of a process service (the a3s document's `watch` block). */
export interface WatchSpec {
  /** Paths relative to the worktree root (written relative to the spec's dir). */
  paths: string[];
  /** Globs matched against a path's segments and its path from the watched root. */
  ignore: string[];
  /** A change restarts the service (false: only an event, the program reloads itself). */
  restart: boolean;
  /** Changes within this window make one restart. @default 500 */
  debounceMs: number;
}

export type DependCondition = "started" | "healthy" | "completed";

export interface ContainerService extends ServiceBase {
  type: "container";
  /** Image reference; at least one of image / build is set (with both, the build is tagged so). */
  image?: string;
  build?: BuildContext;
  command?: string[];
  entrypoint?: string[];
  volumes: VolumeMount[];
  ulimits?: Ulimits;
  /** Number of containers (compose `deploy.replicas`, `scale`). @default 1 */
  replicas?: number;
  /**
   * `start-first`: a change starts the new container (its own name, no host ports) and waits
   * for its health before the old one is removed (a hivesync service behind the proxy).
   * @default replace: the old one is removed first
   */
  rollout?: "start-first";
  /** Its Postgres is the env's backup source (`envctl backup`, `restore`, `export`). */
  backup?: "postgres";
  /** Labels of the container, next to envctl's own. */
  labels?: Record<string, string>;
  /** Files written into the container before it starts. */
  files?: ContainerFile[];
  /** Container runtime options as Compose names them (docker-options.ts). */
  docker?: DockerOptions;
}

/**
 * The container runtime options a service may set, with Compose's names and the values of
 * `docker compose config --format json` (sizes in bytes, durations as Go durations). They map
 * onto the Docker API as Compose maps them (lib/docker/container.ts).
 */
export interface DockerOptions {
  /** The image's own HEALTHCHECK is turned off (compose `healthcheck: { disable: true }`). */
  no_healthcheck?: boolean;
  init?: boolean;
  user?: string;
  working_dir?: string;
  hostname?: string;
  domainname?: string;
  mac_address?: string;
  /** `no`, `always`, `on-failure[:N]`, `unless-stopped`; absent: envctl's unless-stopped. */
  restart?: string;
  stop_signal?: string;
  /** Go duration, e.g. `"1m30s"`. */
  stop_grace_period?: string;
  platform?: string;
  tmpfs?: string[];
  /** `host=address` or `host:address` entries. */
  extra_hosts?: string[];
  cap_add?: string[];
  cap_drop?: string[];
  privileged?: boolean;
  shm_size?: number;
  tty?: boolean;
  stdin_open?: boolean;
  /** `host[:container[:permissions]]` entries. */
  devices?: string[];
  device_cgroup_rules?: string[];
  dns?: string[];
  dns_search?: string[];
  dns_opt?: string[];
  security_opt?: string[];
  read_only?: boolean;
  pid?: string;
  ipc?: string;
  uts?: string;
  userns_mode?: string;
  cgroup?: string;
  cgroup_parent?: string;
  runtime?: string;
  isolation?: string;
  /** `host`, `none`, `service:NAME`, `container:NAME`; absent: the env's networks. */
  network_mode?: string;
  /** Networks of the env the container joins (absent: the env's default), with aliases. */
  networks?: Record<
    string,
    { aliases?: string[]; ipv4_address?: string; ipv6_address?: string; priority?: number }
  >;
  /** `SERVICE[:ALIAS]`: extra names the container resolves. */
  links?: string[];
  /** `SERVICE[:ro|rw]` or `container:NAME[:ro|rw]`: mounts another container's volumes. */
  volumes_from?: string[];
  /** Container ports exposed but not published (`80`, `8000-8001/udp`). */
  expose?: string[];
  mem_limit?: number;
  mem_reservation?: number;
  memswap_limit?: number;
  mem_swappiness?: number;
  oom_kill_disable?: boolean;
  oom_score_adj?: number;
  cpus?: number;
  cpu_shares?: number;
  cpu_period?: number;
  cpu_quota?: number;
  cpuset?: string;
  pids_limit?: number;
  sysctls?: Record<string, string>;
  group_add?: string[];
  storage_opt?: Record<string, string>;
  /** Commands run in the container after it starts / before it stops (compose lifecycle hooks). */
  post_start?: LifecycleHook[];
  pre_stop?: LifecycleHook[];
}

export interface LifecycleHook {
  command: string[];
  user?: string;
  privileged?: boolean;
  working_dir?: string;
  environment?: Record<string, string>;
}

/**
 * A host daemon: `cmd` runs through /bin/sh in `dir` of the env's worktree with env.sh sourced.
 * Its `ports` are named by the port the program would use on its own (`3000` for a dev server);
 * nothing maps them: the env gives each one a host port in its block, the program is told it
 * ($PORT, $PORT_3000, templates) and must listen there, where health checks and status look.
 */
export interface ProcessService extends ServiceBase {
  type: "process";
  cmd: string;
  /** Working directory relative to the worktree root (written relative to the spec's dir). */
  dir: string;
  /** @default "no": a crashed service stays down until the next up */
  restart?: RestartPolicy;
  /** Restarts allowed before the service is failed for good (counted since its last reset). */
  maxRestarts?: number;
  watch?: WatchSpec;
}

export type Service = ContainerService | ProcessService;

/** One first-warm initialization step (database creation, migrations, seeding). */
export interface InitStep {
  name: string;
  /** Shell command, run with env.sh sourced. */
  run: string;
  /** Directory relative to the worktree root (written relative to the spec's dir). */
  dir: string;
}

/** One `export NAME=value` line of env.sh; `value` may hold `{{...}}` templates. */
export interface ExportVar {
  name: string;
  value: string;
  /** Section heading written as a comment before the first variable of a group. */
  section?: string;
}

export interface TemporalSpec {
  /** `temporal --address` of the shared server. */
  address: string;
  /** Namespaces created on first warm (templates allowed: `dust-hive-{{name}}`). */
  namespaces: string[];
  /** Search attributes `doctor` checks (and creates) on the shared server: name -> type. */
  searchAttributes: Record<string, string>;
}

export interface EnvSpec {
  /** Absolute path of the git repository the env's worktree is made from. */
  repo: string;
  /**
   * Top level of the checkout `repo` is in (`repo` when none): the worktree mirrors it, so host
   * paths under it (build contexts, bind mounts) are the same places in the worktree.
   */
  root: string;
  /** Branch (or commit) the env's branch starts from. */
  base: string;
  /** Services in spec order. */
  services: Service[];
  /** Named volumes declared with options (external, driver); others are made per env. */
  volumes?: Record<string, VolumeDecl>;
  /** Networks besides the env's default one (compose top-level `networks`), by name. */
  networks?: string[];
  /** env.sh exports in spec order. */
  exports: ExportVar[];
  /** First-warm steps, run once after the services in `initAfter` are healthy. */
  init: InitStep[];
  /** Services that must be healthy before init runs; every other warm service waits for init. */
  initAfter: string[];
  temporal?: TemporalSpec;
  /** The stack kind the spec makes (envctl.yaml `kind`). @default "devenv" */
  kind?: "devenv" | "copilot" | "hivesync";
  /** The copilot kind's settings (envctl.yaml `copilot`). */
  copilot?: CopilotSpec;
  /** The hivesync kind's settings (envctl.yaml `hivesync`). */
  hivesync?: HivesyncSpec;
  /** The a3s document's global settings (envctl.yaml and A3sfile.hcl `dev`). */
  dev?: DevSettings;
  /** Read from an A3sfile: issues found later name its fields (lib/spec/a3s-name.ts). */
  source?: "a3s";
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
/** The `*.localhost` proxy's port unless `dev.proxy_port` says (the a3s document's). */
export const PROXY_PORT = 7080;

export interface DevSettings {
  /** The `*.localhost` proxy's port, shared by every env of the home. @default 7080 */
  proxyPort: number;
  /** What the supervisor writes to its log. @default "info" */
  logLevel: (typeof LOG_LEVELS)[number];
}

/** One step run inside a service's container after each deploy (`alembic upgrade head`). */
export interface DeployStep {
  service: string;
  run: string;
  /** @default 300000 (5 minutes) */
  timeoutMs: number;
}

/** What the hivesync health check reads (the document's hivesync-health.py). */
export interface HealthSpec {
  /** The Postgres service (`psql` runs in it); none: not checked. */
  postgres?: string;
  /** The Redis service (`redis-cli` runs in it); none: not checked, no queues, no heartbeats. */
  redis?: string;
  /** Redis lists whose length is a queue depth. @default ["preview_build", "cleanup"] */
  queues: string[];
  /** Redis key pattern of the workers' heartbeats (unix seconds). @default "hivesync:heartbeat:*" */
  heartbeats: string;
  /** A heartbeat older than this is degraded. @default 60000 */
  maxHeartbeatAgeMs: number;
  /** A queue longer than this is degraded. @default 100 */
  maxQueueDepth: number;
  /** How long a deploy waits for the check to pass. @default 60000 */
  timeoutMs: number;
}

/** The reverse proxy in front of a hivesync app (Caddy, automatic TLS). */
export interface ProxySpec {
  domain: string;
  /** @default "backend" */
  service: string;
  /** @default 4000 */
  port: number;
  /** @default true */
  tls: boolean;
  email?: string;
  /** Host ports. @default 80 and 443 */
  httpPort: number;
  httpsPort: number;
  /** @default "caddy:2" */
  image: string;
}

/** An SSH target of a hivesync env. */
export interface SshTargetSpec {
  /** As written: `user@host[:port]`, `host`, or a catalog host id. */
  host: string;
  /** Absolute path of the deploy key. */
  identityFile?: string;
  /** @default "/opt/hivesync" */
  root: string;
}

/** The hivesync kind's settings. */
/** A Linode VM the stack creates for the env (components/hivesync/linode-host.ts). */
export interface LinodeTargetSpec {
  /** @default "us-east" */
  region: string;
  /** @default "g6-standard-2" */
  type: string;
  /** An Ubuntu LTS image (cloud-init installs Ubuntu's Docker packages). @default "linode/ubuntu24.04" */
  image: string;
  /** The deploy key (a private key file). @default ENVCTL_SSH_KEY */
  identityFile?: string;
  /** Its public half (OpenSSH format). @default `<identity file>.pub`, else `ssh-keygen -y` */
  publicKey?: string;
  /** How long a new VM may take to answer SSH and run Docker. @default 900000 (15 minutes) */
  readyTimeoutMs: number;
}

export type HivesyncTarget = "local" | "ssh" | "linode";

export interface HivesyncSpec {
  /** Where the containers run. @default "local" */
  target: HivesyncTarget;
  ssh?: SshTargetSpec;
  linode?: LinodeTargetSpec;
  proxy?: ProxySpec;
  /** Variables that are secrets besides those named *_SECRET, *_PASSWORD, *_KEY, *_TOKEN. */
  secrets: string[];
  /** Variables `--generate-secrets` fills with strong random values, made once and kept. */
  generate: string[];
  deploy: { after: DeployStep[] };
  health: HealthSpec;
}

/** The copilot kind's settings: whether the stack holds its AWS infra, and where. */
export interface CopilotSpec {
  /** `aws`: the stack makes the DSQL clusters and knowledge base; `none`: `.env` names them. */
  infra: "aws" | "none";
  /** Prefix of the AWS resource names; the env's name is appended. @default "copilot" */
  projectName: string;
  /** @default "eu-west-1" */
  region: string;
  /** The directory of the spec (the preset's `dev/`): docker/, config/, .env. */
  dir: string;
}

export const ENV_STATES = ["stopped", "cold", "warm"] as const;
/** dust-hive's states: stopped (nothing runs), cold (cold services only), warm (everything). */
export type EnvState = (typeof ENV_STATES)[number];

/** A published port after the env's block is known. */
export interface ResolvedPort extends PortMapping {
  host: number;
}

export type ResolvedContainer = Omit<ContainerService, "ports"> & { ports: ResolvedPort[] };
export type ResolvedProcess = Omit<ProcessService, "ports"> & { ports: ResolvedPort[] };
export type ResolvedService = ResolvedContainer | ResolvedProcess;

/**
 * The shape version of a stored ResolvedEnv (stack config, catalog). Stored envs outlive the code
 * that wrote them: lib/kinds/devenv/upgrade.ts brings any older version to this one.
 */
export const RESOLVED_ENV_VERSION = 2;

/** What goes into stack config: the spec bound to one env, one block and one home. */
export interface ResolvedEnv {
  /** Shape version; envs stored before it existed are version 1. */
  schemaVersion: typeof RESOLVED_ENV_VERSION;
  name: string;
  kind: "devenv" | "copilot" | "hivesync";
  /** ENVCTL_HOME the env belongs to. */
  home: string;
  /** Port block index n (base = 10000 + 1000·n). */
  block: number;
  base: number;
  repo: string;
  baseRef: string;
  /** The checkout's top level (EnvSpec.root); absent in envs resolved before it was kept: repo. */
  root?: string;
  branch: string;
  worktreeDir: string;
  /** Desired state; each lifecycle verb is an `up` with another value here. */
  state: EnvState;
  /**
   * While warm, the warm services that run (cold ones always do): set by `warm NAME SERVICE...`
   * and `cool NAME SERVICE...`; absent: all of them.
   */
  only?: string[];
  /** `$ENVCTL_HOME/envs/NAME`: env.sh, pid and log files. */
  stateDir: string;
  services: ResolvedService[];
  volumes?: Record<string, VolumeDecl>;
  networks?: string[];
  /** The rendered env.sh. */
  envSh: string;
  /** Init steps with templates rendered; Temporal namespace creation comes first. */
  init: InitStep[];
  initAfter: string[];
  /** Stopped with `stop --volumes`: its volumes removed too (registered again by start). */
  volumesDropped?: boolean;
  /** The copilot kind's settings, with the AWS names resolved for this env. */
  copilot?: ResolvedCopilot;
  /**
   * The Docker engine the env's containers run on (`ssh://user@host:port`); none: the local one.
   * A linode target's is known once its VM exists: the CLI records it from the stack's outputs.
   */
  dockerHost?: string;
  /** On a remote engine, the directory of that host the checkout's bind sources map to. */
  remoteRoot?: string;
  /** The catalog host the env runs on (`envctl host show`); none: this machine. */
  hostId?: string;
  /** The hivesync kind's settings; secret values are tokens here (lib/kinds/hivesync/secrets.ts). */
  hivesync?: ResolvedHivesync;
  dev?: DevSettings;
}

/** The VM of a linode target, with its deploy key read. */
export interface ResolvedLinode {
  region: string;
  type: string;
  image: string;
  /** root's authorized key on the VM (OpenSSH format). */
  publicKey: string;
  /** The private key file the readiness check logs in with. */
  keyFile: string;
  /** The spec's identity file: the Docker endpoint names it (else ENVCTL_SSH_KEY is read). */
  identityFile?: string;
  readyTimeoutMs: number;
}

export interface ResolvedHivesync {
  target: HivesyncTarget;
  linode?: ResolvedLinode;
  proxy?: ProxySpec;
  deploy: { after: DeployStep[] };
  health: HealthSpec;
  /** Token names whose values the stack's secret config `envctl:secrets` holds. */
  secrets: string[];
  /** Token names filled by a generated secret kept in state, by the variable it is for. */
  generated: Record<string, string>;
}

export interface ResolvedCopilot {
  infra: "aws" | "none";
  /** Prefix of this env's AWS resource names (`<project_name>-<env>`). */
  prefix: string;
  region: string;
}
