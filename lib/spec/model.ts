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
  /** HTTP path probed on the published port (kind `http`). */
  path?: string;
  /** Container port probed through its host port (kinds `http` and `tcp`). */
  port?: number;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
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
}

export interface VolumeMount {
  /** Volume name (kind `volume`, namespaced per env later) or absolute host path (kind `bind`). */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  kind: "volume" | "bind";
  readOnly: boolean;
}

export interface BuildContext {
  /** Absolute path of the build context directory. */
  context: string;
  /** Dockerfile path relative to the context. */
  dockerfile: string;
  args: Record<string, string>;
}

/** `ulimits` of a container, e.g. `{ nofile: { soft: 65536, hard: 65536 } }`. */
export type Ulimits = Record<string, { soft: number; hard: number }>;

interface ServiceBase {
  name: string;
  env: Record<string, string>;
  ports: PortMapping[];
  health?: HealthCheck;
  /** Names of services that must be healthy before this one starts. */
  dependsOn: string[];
  /** Keeps running while the env is cold (watchers, SDK builds); others run only when warm. */
  cold: boolean;
}

export interface ContainerService extends ServiceBase {
  type: "container";
  /** Image reference; exactly one of image / build is set. */
  image?: string;
  build?: BuildContext;
  command?: string[];
  entrypoint?: string[];
  volumes: VolumeMount[];
  ulimits?: Ulimits;
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
  /** env.sh exports in spec order. */
  exports: ExportVar[];
  /** First-warm steps, run once after the services in `initAfter` are healthy. */
  init: InitStep[];
  /** Services that must be healthy before init runs; every other warm service waits for init. */
  initAfter: string[];
  temporal?: TemporalSpec;
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
  kind: "devenv";
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
  /** `$ENVCTL_HOME/envs/NAME`: env.sh, pid and log files. */
  stateDir: string;
  services: ResolvedService[];
  /** The rendered env.sh. */
  envSh: string;
  /** Init steps with templates rendered; Temporal namespace creation comes first. */
  init: InitStep[];
  initAfter: string[];
}
