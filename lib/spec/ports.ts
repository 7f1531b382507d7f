/**
 * Port blocks: env n publishes its services on host ports base..base+999 with
 * base = 10000 + 1000·n; a container port's place in the block is its offset.
 */
import type { PortMapping, ResolvedPort, ResolvedService, Service, SpecIssue } from "./model";

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

/** Services with host ports filled in for the block starting at `base`. */
export function resolveServices(services: Service[], base: number): ResolvedService[] {
  return services.map((s) => ({
    ...s,
    ports: s.ports.map((p): ResolvedPort => ({ ...p, host: base + p.offset })),
  }));
}

/** Distinct host ports the services publish in the block starting at `base`, in spec order. */
export function hostPorts(services: Ported[], base: number): number[] {
  const out = new Set<number>();
  for (const s of services) for (const p of s.ports) out.add(base + p.offset);
  return [...out];
}

/**
 * Two ports anywhere in the env that land on the same offset and protocol would need the same
 * host port. The later one gets the error, naming the earlier one.
 */
export function offsetCollisions(services: Ported[]): SpecIssue[] {
  const taken = new Map<string, { service: string; container: number }>();
  const issues: SpecIssue[] = [];
  for (const s of services) {
    s.ports.forEach((p, i) => {
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
