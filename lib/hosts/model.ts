/** The host catalog's records: what a host is, as stored and as `add` takes it. */
export const HOST_STATUSES = ["unknown", "online", "offline"] as const;
export type HostStatus = (typeof HOST_STATUSES)[number];

export interface CpuDevice {
  cores: number;
  ramGb: number;
}
export interface GpuDevice {
  index: number;
  name: string;
  vramGb: number;
}
export interface DeviceCapabilities {
  cpu: CpuDevice | null;
  gpus: GpuDevice[];
}

export interface HostRecord {
  /** DNS label, the key (`localhost`, `gpu-box-1`). */
  id: string;
  /** Hostname or IP literal (IPv6 without brackets), lowercased. */
  host: string;
  port: number;
  /** SSH access; null for hosts reached without SSH. A null sshPort means SSH's default. */
  sshHost: string | null;
  sshPort: number | null;
  sshUser: string | null;
  status: HostStatus;
  /** Newest heartbeat ever written, ms since epoch; null if none yet. */
  lastHeartbeatMs: number | null;
  /** null until detected. */
  devices: DeviceCapabilities | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** What `add` takes: id, host, port required; the rest optional (status defaults to unknown). */
export type NewHost = Pick<HostRecord, "id" | "host" | "port"> &
  Partial<Pick<HostRecord, "sshHost" | "sshPort" | "sshUser" | "status" | "devices">>;
