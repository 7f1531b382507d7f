/**
 * Port blocks: env n publishes its services on host ports base..base+999 with
 * base = 10000 + 1000·n; a container port's place in the block is its offset.
 */
import type {
  EnvSpec,
  PortMapping,
  ResolvedPort,
  ResolvedService,
  Service,
  SpecIssue,
} from "./model";

/** The part of a service that port math looks at. */
type Ported = { name: string; ports: PortMapping[] };

export const BLOCK_START = 10000;
export const BLOCK_SIZE = 1000;
const MAX_PORT = 65535;

/** Largest block index whose whole block fits below 65536. */
export const MAX_BLOCK = Math.floor((MAX_PORT - (BLOCK_SIZE - 1) - BLOCK_START) / BLOCK_SIZE);

/** First host port of block `n` (env-1 is n=0 -> 10000). */
export function blockBase(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_BLOCK) {
    throw new RangeError(`port block ${n} is outside 0..${MAX_BLOCK}`);
  }
  return BLOCK_START + BLOCK_SIZE * n;
}

/** Offset used when the spec gives none: 5432 -> 432, 8080 -> 80. */
export function defaultOffset(containerPort: number): number {
  return containerPort % BLOCK_SIZE;
}

/** A port's host port in the block starting at `base`; a fixed port is its own. */
export function hostPort(p: PortMapping, base: number): number {
  return p.fixed ? p.container : base + p.offset;
}

/** Services with host ports filled in for the block starting at `base`. */
export function resolveServices(services: Service[], base: number): ResolvedService[] {
  return services.map((s) => ({
    ...s,
    ports: s.ports.map((p): ResolvedPort => ({ ...p, host: hostPort(p, base) })),
  }));
}

/**
 * What a process service is told about its ports (set after env.sh is sourced, so an env-wide
 * export of the same name never reaches it): PORT, the host port of its first port, and
 * PORT_<n> for each port, n being the port's number as written (`port: 3000` -> PORT_3000).
 */
export function portEnv(ports: ResolvedPort[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (ports[0]) out.PORT = String(ports[0].host);
  for (const p of ports) out[`PORT_${p.container}`] ??= String(p.host);
  return out;
}

/**
 * Everything a process service gets beyond env.sh: its port variables, then its own `env`,
 * which may set them otherwise (validate warns when it does). Both win over env.sh's exports.
 */
export function processEnv(s: {
  ports: ResolvedPort[];
  env: Record<string, string>;
}): Record<string, string> {
  return { ...portEnv(s.ports), ...s.env };
}

/** Distinct fixed ports (outside any block) of the services, in spec order. */
export function fixedPorts(services: Ported[]): number[] {
  return [
    ...new Set(services.flatMap((s) => s.ports.filter((p) => p.fixed).map((p) => p.container))),
  ];
}

/** Distinct host ports the services publish in the block starting at `base`, in spec order. */
export function hostPorts(services: Ported[], base: number): number[] {
  const out = new Set<number>();
  for (const s of services) for (const p of s.ports) if (!p.fixed) out.add(base + p.offset);
  return [...out];
}

/**
 * Two ports anywhere in the env that land on the same offset and protocol would need the same
 * host port. The later one gets the error, naming the earlier one.
 */
export function offsetCollisions(services: Ported[]): SpecIssue[] {
  const taken = new Map<string, { service: string; container: number }>();
  const issues: SpecIssue[] = [];
  const fixed = new Map<string, { service: string }>();
  for (const s of services) {
    s.ports.forEach((p, i) => {
      if (p.fixed) {
        const key = `${p.container}/${p.protocol}`;
        const first = fixed.get(key);
        if (!first) fixed.set(key, { service: s.name });
        else
          issues.push({
            path: `services.${s.name}.ports[${i}]`,
            message: `port ${p.container} is also services.${first.service}'s; two programs cannot listen on one port`,
          });
        return;
      }
      const key = `${p.offset}/${p.protocol}`;
      const first = taken.get(key);
      if (!first) {
        taken.set(key, { service: s.name, container: p.container });
        return;
      }
      const proto = p.protocol === "udp" ? "/udp" : "";
      const fix =
        p.offset === defaultOffset(p.container)
          ? "set an explicit offset"
          : "choose a different offset";
      issues.push({
        path: `services.${s.name}.ports[${i}]`,
        message:
          `host offset ${p.offset} (port ${p.container}${proto}) collides with ` +
          `services.${first.service} port ${first.container}${proto}; ${fix}`,
      });
    });
  }
  return issues;
}

/**
 * Ports Chrome and Firefox refuse to open (ERR_UNSAFE_PORT; the Fetch standard's bad ports: Chrome's kRestrictedPorts, Firefox's
 * gBadPortList): a web service published on one cannot be opened in a browser. Only 10080 (block
 * 0 + 80) is in any block, but the list is kept whole so it can be checked against the browsers'.
 */
export const UNSAFE_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
  103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
  512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
  995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
  6669, 6679, 6697, 10080,
]);

/**
 * A warning per tcp port that lands on a browser-refused host port in block `block` (udp ports
 * are never opened by a browser). Only the env's actual block matters: 80 is fine in block 1.
 */
export function unsafePorts(services: Ported[], block: number): SpecIssue[] {
  const base = blockBase(block);
  return services.flatMap((s) =>
    s.ports.flatMap((p, i): SpecIssue[] => {
      if (p.fixed) return [];
      const host = base + p.offset;
      if (p.protocol !== "tcp" || !UNSAFE_PORTS.has(host)) return [];
      const fix =
        p.offset === defaultOffset(p.container) ? "set an offset" : "choose another offset";
      return [
        {
          path: `services.${s.name}.ports[${i}]`,
          message: `host port ${host} (block ${block} + ${p.offset}) is refused by browsers (ERR_UNSAFE_PORT); ${fix}`,
        },
      ];
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// choosing a block

/** A block another env holds, from the catalog. */
export interface HeldBlock {
  block: number;
  env: string;
}

/** A host port of the spec that was busy in a block the env cannot get. */
export interface BusyPort {
  block: number;
  port: number;
  /** `services.NAME.ports[i]` of every spec port landing on it. */
  paths: string[];
}

export interface BlockChoice {
  /** The block a new env would lease now; undefined when none is free. */
  block?: number;
  /** Busy ports in the unleased blocks below it, which is why it was skipped to. */
  busy: BusyPort[];
}

/**
 * The lowest block not in `leased` whose host ports are all free right now (what `up` would
 * lease), and the busy ports that made it skip lower blocks.
 */
export async function chooseBlock(
  services: EnvSpec["services"],
  leased: Set<number>,
  /** Which of the given host ports are taken (lib/runtime/probes busyPorts, or a test double). */
  busy: (ports: number[]) => Promise<number[]>,
): Promise<BlockChoice> {
  const found: BusyPort[] = [];
  for (let n = 0; n <= MAX_BLOCK; n++) {
    if (leased.has(n)) continue;
    const base = blockBase(n);
    const taken = await busy(hostPorts(services, base));
    if (taken.length === 0) return { block: n, busy: found };
    for (const port of taken) {
      const paths = services.flatMap((s) =>
        s.ports.flatMap((p, i) =>
          !p.fixed && base + p.offset === port ? [`services.${s.name}.ports[${i}]`] : [],
        ),
      );
      found.push({ block: n, port, paths });
    }
  }
  return { busy: found };
}
