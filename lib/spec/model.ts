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
  /** Port inside the container. */
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

export interface ContainerService {
  name: string;
  type: "container";
  /** Image reference; exactly one of image / build is set. */
  image?: string;
  build?: BuildContext;
  command?: string[];
  entrypoint?: string[];
  env: Record<string, string>;
  ports: PortMapping[];
  volumes: VolumeMount[];
  health?: HealthCheck;
  /** Names of services that must be healthy before this one starts. */
  dependsOn: string[];
}

export type Service = ContainerService;

export interface EnvSpec {
  /** Absolute path of the git repository the env's worktree is made from. */
  repo: string;
  /** Branch (or commit) the env's branch starts from. */
  base: string;
  /** Services in spec order. */
  services: Service[];
}

/** A published port after the env's block is known. */
export interface ResolvedPort extends PortMapping {
  host: number;
}

export interface ResolvedService extends ContainerService {
  ports: ResolvedPort[];
}

/** What goes into stack config: the spec bound to one env, one block and one home. */
export interface ResolvedEnv {
  name: string;
  kind: "devenv";
  /** ENVCTL_HOME the env belongs to. */
  home: string;
  /** Port block index n (base = 10000 + 1000·n). */
  block: number;
  base: number;
  repo: string;
  baseRef: string;
  branch: string;
  worktreeDir: string;
  services: ResolvedService[];
}
