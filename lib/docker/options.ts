/**
 * A service's container runtime options (Compose's keys, model.ts DockerOptions) -> the Docker
 * API's create options, as Compose maps them (compose/pkg/compose/create.go): the container
 * config part, the HostConfig part and the stop settings.
 */
import type Dockerode from "dockerode";
import { goDurationNs } from "../core/duration";
import type { DockerOptions } from "../spec/model";

/** Go duration -> whole seconds, rounded up (Docker's StopTimeout is whole seconds). */
export function durationSeconds(text: string): number {
  return Math.ceil((goDurationNs(text) ?? 0) / 1e9);
}

/** `on-failure:3` -> Docker's RestartPolicy. */
export function restartPolicy(text: string): { Name: string; MaximumRetryCount?: number } {
  const [name = "no", max] = text.split(":");
  return max !== undefined ? { Name: name, MaximumRetryCount: Number(max) } : { Name: name };
}

/** `/run:size=64m,mode=1777` -> Docker's Tmpfs map entry. */
function tmpfsEntry(spec: string): [string, string] {
  const i = spec.indexOf(":");
  return i < 0 ? [spec, ""] : [spec.slice(0, i), spec.slice(i + 1)];
}

/** `host=1.2.3.4` (Compose's printed form) or `host:1.2.3.4` -> Docker's `host:1.2.3.4`. */
function extraHost(entry: string): string {
  const eq = entry.indexOf("=");
  return eq >= 0 ? `${entry.slice(0, eq)}:${entry.slice(eq + 1)}` : entry;
}

/** `/dev/x[:/dev/y[:rwm]]` -> Docker's DeviceMapping. */
function device(entry: string): {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
} {
  const [host = "", container, perms] = entry.split(":");
  return {
    PathOnHost: host,
    PathInContainer: container || host,
    CgroupPermissions: perms || "rwm",
  };
}

/** `80`, `8000-8001/udp` -> ExposedPorts keys. */
function exposed(entry: string): string[] {
  const [ports = "", proto = "tcp"] = entry.split("/");
  const [lo, hi = lo] = ports.split("-").map(Number);
  if (lo === undefined || hi === undefined || Number.isNaN(lo) || Number.isNaN(hi)) return [];
  return Array.from({ length: hi - lo + 1 }, (_, i) => `${lo + i}/${proto}`);
}

/** The parts of the create options the runtime options set (merged over envctl's own). */
export function runtimeOptions(o: DockerOptions | undefined): {
  config: Partial<Dockerode.ContainerCreateOptions>;
  host: Dockerode.HostConfig;
  exposed: string[];
} {
  const config: Record<string, unknown> = {};
  const host: Record<string, unknown> = {};
  if (!o) return { config, host, exposed: [] };
  const set = (target: Record<string, unknown>, key: string, v: unknown): void => {
    if (v !== undefined) target[key] = v;
  };
  set(config, "User", o.user);
  set(config, "WorkingDir", o.working_dir);
  set(config, "Hostname", o.hostname);
  set(config, "Domainname", o.domainname);
  set(config, "MacAddress", o.mac_address);
  set(config, "StopSignal", o.stop_signal);
  if (o.stop_grace_period !== undefined) config.StopTimeout = durationSeconds(o.stop_grace_period);
  set(config, "Tty", o.tty);
  set(config, "OpenStdin", o.stdin_open);
  if (o.stdin_open) config.AttachStdin = false;

  set(host, "Init", o.init);
  if (o.restart !== undefined) host.RestartPolicy = restartPolicy(o.restart);
  if (o.tmpfs?.length) host.Tmpfs = Object.fromEntries(o.tmpfs.map(tmpfsEntry));
  if (o.extra_hosts?.length) host.ExtraHosts = o.extra_hosts.map(extraHost);
  set(host, "CapAdd", o.cap_add);
  set(host, "CapDrop", o.cap_drop);
  set(host, "Privileged", o.privileged);
  set(host, "ShmSize", o.shm_size);
  if (o.devices?.length) host.Devices = o.devices.map(device);
  set(host, "DeviceCgroupRules", o.device_cgroup_rules);
  set(host, "Dns", o.dns);
  set(host, "DnsSearch", o.dns_search);
  set(host, "DnsOptions", o.dns_opt);
  set(host, "SecurityOpt", o.security_opt);
  set(host, "ReadonlyRootfs", o.read_only);
  set(host, "PidMode", o.pid);
  set(host, "IpcMode", o.ipc);
  set(host, "UTSMode", o.uts);
  set(host, "UsernsMode", o.userns_mode);
  set(host, "CgroupnsMode", o.cgroup);
  set(host, "CgroupParent", o.cgroup_parent);
  set(host, "Runtime", o.runtime);
  set(host, "Isolation", o.isolation);
  set(host, "Memory", o.mem_limit);
  set(host, "MemoryReservation", o.mem_reservation);
  set(host, "MemorySwap", o.memswap_limit);
  set(host, "MemorySwappiness", o.mem_swappiness);
  set(host, "OomKillDisable", o.oom_kill_disable);
  set(host, "OomScoreAdj", o.oom_score_adj);
  if (o.cpus !== undefined) host.NanoCpus = Math.round(o.cpus * 1e9);
  set(host, "CpuShares", o.cpu_shares);
  set(host, "CpuPeriod", o.cpu_period);
  set(host, "CpuQuota", o.cpu_quota);
  set(host, "CpusetCpus", o.cpuset);
  set(host, "PidsLimit", o.pids_limit);
  set(host, "Sysctls", o.sysctls);
  set(host, "GroupAdd", o.group_add);
  set(host, "StorageOpt", o.storage_opt);
  return {
    config: config,
    host: host,
    exposed: (o.expose ?? []).flatMap(exposed),
  };
}
