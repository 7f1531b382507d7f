import type { Home } from "../../core/home";
import { UserError } from "../../core/errors";
import { GENERATED_BY_DEFAULT, PLACEHOLDER_RE } from "../../spec/hivesync";
import type { EnvSpec, EnvState, ResolvedEnv, ResolvedService } from "../../spec/model";
import { resolveEnv } from "../devenv/resolve";
import { withProxy } from "./proxy";
import { splitSecrets } from "./secrets";
import { REMOTE_ROOT } from "../../spec/hivesync";
import { linodeLabel } from "./cloud-init";
import { dockerEndpoint, parseTarget, remoteRoot, resolveLinode, type HostLookup } from "./target";

/** Options of one resolve that are not part of the spec. */
export interface HivesyncResolveOptions {
  /** Variables whose values come from generated secrets (`--generate-secrets`, or kept). */
  generate?: readonly string[];
  /** A catalog host by id, for an SSH target named by it. */
  hostById?: HostLookup;
}

/**
 * A hivesync env is a devenv of the app's compose project (worktree at the deployed revision,
 * port block, services) whose secret values are tokens (secrets.ts), plus its deploy steps and
 * health check.
 */
export function resolveHivesync(
  name: string,
  spec: EnvSpec,
  block: number,
  home: Home,
  state: EnvState = "warm",
  opts: HivesyncResolveOptions = {},
): ResolvedEnv {
  return resolveWithSecrets(name, spec, block, home, state, opts).env;
}

/**
 * The resolved env and the values of its secret tokens (what the stack's `envctl:secrets`
 * config holds), from one resolve.
 */
export function resolveWithSecrets(
  name: string,
  spec: EnvSpec,
  block: number,
  home: Home,
  state: EnvState = "warm",
  opts: HivesyncResolveOptions = {},
): { env: ResolvedEnv; secrets: Record<string, string> } {
  const h = spec.hivesync;
  if (!h) throw new Error("a hivesync spec without its hivesync settings");
  const env = resolveEnv(name, spec, block, home, state);
  const services = h.proxy ? withProxy(env.services, h.proxy) : env.services;
  const remote = h.target === "ssh" && h.ssh ? h.ssh : undefined;
  const vm = h.target === "linode" ? h.linode : undefined;
  if (remote || vm) checkRemote(services, opts.generate ?? [], h.target);
  const endpoint = remote ? parseTarget(remote.host, opts.hostById) : undefined;
  // The VM's address is known once it exists: the program makes the Docker endpoint of it.
  const linode = vm ? resolveLinode(vm) : undefined;
  const split = splitSecrets(services, h.secrets, opts.generate ?? []);
  const resolved: ResolvedEnv = {
    ...env,
    kind: "hivesync",
    services: split.services,
    ...(remote && endpoint
      ? {
          dockerHost: dockerEndpoint(endpoint, remote.identityFile),
          remoteRoot: remoteRoot(remote.root, name),
          ...(endpoint.hostId ? { hostId: endpoint.hostId } : {}),
        }
      : linode
        ? { remoteRoot: remoteRoot(REMOTE_ROOT, name), hostId: linodeLabel(name) }
        : {}),
    hivesync: {
      target: h.target,
      ...(linode ? { linode } : {}),
      ...(h.proxy ? { proxy: h.proxy } : {}),
      deploy: h.deploy,
      health: h.health,
      secrets: Object.keys(split.values).sort(),
      generated: split.generated,
    },
  };
  return { env: resolved, secrets: split.values };
}

/**
 * A remote target takes no placeholder secrets (each `REPLACE_ME` named, unless generated) and
 * no files given by value (they are written on this machine).
 */
function checkRemote(
  services: ResolvedService[],
  generate: readonly string[],
  target: string,
): void {
  const issues: string[] = [];
  const seen = new Set<string>();
  for (const s of services) {
    for (const [k, v] of Object.entries(s.env)) {
      if (PLACEHOLDER_RE.test(v) && !generate.includes(k) && !seen.has(k)) {
        seen.add(k);
        issues.push(`services.${s.name}.env.${k}: is ${JSON.stringify(v)}; set it in the env file`);
      }
    }
    // envctl probes these from this machine on the published port; the VM's firewall lets in
    // only 22, 80 and 443. A command check runs inside the container, over SSH.
    if (target === "linode" && (s.health?.kind === "http" || s.health?.kind === "tcp")) {
      issues.push(
        `services.${s.name}.health: an ${s.health.kind} check is probed from this machine on a published port, which the VM's firewall drops (it lets in 22, 80 and 443); give the service a command check (a compose healthcheck)`,
      );
    }
    if (s.type === "container" && s.files?.length) {
      issues.push(
        `services.${s.name}: secrets or configs given as files are not supported on a${target === "ssh" ? "n SSH" : " linode"} target`,
      );
    }
  }
  if (issues.length === 0) return;
  const gen = [...seen].filter((k) => GENERATED_BY_DEFAULT.includes(k));
  // One line each, as validate prints issues (a message is one line).
  throw new UserError(`the spec has ${issues.length} things a remote deploy refuses`, 2, [
    ...issues,
    ...(gen.length
      ? [`--generate-secrets fills ${gen.join(" and ")} with strong values, made once and kept`]
      : []),
  ]);
}
