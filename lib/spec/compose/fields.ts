/**
 * The compose service fields that need converting, one entry at a time: ports (short and long
 * syntax, ranges) to offsets in the env's port block, volumes to named volumes or bind mounts,
 * healthcheck (with Go durations) and depends_on.
 */
import { shellQuote } from "../../core/shell";
import { describeValue } from "../schema";
import {
  type Ctx,
  fail,
  type HealthLayer,
  hostPath,
  isObj,
  type Layer,
  NOT_SUPPORTED,
  type Path,
  type PortOut,
  type VolumeOut,
  warn,
  where,
} from "./context";

// ---------------------------------------------------------------------------------------------
// ports

/** `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`, ports may be ranges `3000-3001`. */
const SHORT_PORT_RE = /^(?:(?:(\[[^\]]*\]|[^:[\]]*):)?(\d*(?:-\d+)?):)?(\d+(?:-\d+)?)(?:\/(\w+))?$/;

export function portEntry(ctx: Ctx, at: Path, p: unknown): PortOut[] {
  if (typeof p === "number") return portRange(ctx, at, String(p), undefined, "tcp");
  if (typeof p === "string") {
    const m = SHORT_PORT_RE.exec(p.trim());
    if (!m) {
      fail(
        ctx,
        at,
        `must be "[HOST:]CONTAINER[/PROTOCOL]" like "5432" or "10432:5432", got "${p}"`,
      );
      return [];
    }
    const [, ip, published, container = "", protocol = "tcp"] = m;
    hostIp(ctx, at, ip);
    return portRange(ctx, at, container, published || undefined, protocol);
  }
  if (!isObj(p)) {
    fail(ctx, at, `must be a port string, number or mapping, got ${describeValue(p)}`);
    return [];
  }
  for (const k of Object.keys(p)) {
    if (!["target", "published", "protocol", "host_ip", "mode", "name", "app_protocol"].includes(k))
      fail(ctx, [...at, k], NOT_SUPPORTED);
  }
  if (typeof p.host_ip === "string") hostIp(ctx, [...at, "host_ip"], p.host_ip);
  const { target, published, protocol = "tcp" } = p;
  if (typeof target !== "number" && typeof target !== "string") {
    fail(ctx, [...at, "target"], "required: the container port");
    return [];
  }
  if (published !== undefined && typeof published !== "number" && typeof published !== "string") {
    fail(ctx, [...at, "published"], `must be a port, got ${describeValue(published)}`);
    return [];
  }
  return portRange(
    ctx,
    at,
    String(target),
    published === undefined ? undefined : String(published),
    String(protocol),
  );
}

function hostIp(ctx: Ctx, at: Path, ip: string | undefined): void {
  if (ip && ip !== "0.0.0.0" && ip !== "[::]") {
    warn(ctx, at, `host address ${ip} is ignored: envctl publishes the env's ports itself`);
  }
}

/** Container port(s) -> envctl ports; the offset is the published port's place in a block. */
function portRange(
  ctx: Ctx,
  at: Path,
  container: string,
  published: string | undefined,
  protocol: string,
): PortOut[] {
  if (protocol !== "tcp" && protocol !== "udp") {
    fail(ctx, at, `protocol "${protocol}" is not supported (tcp or udp)`);
    return [];
  }
  const targets = range(container);
  const hosts = published === undefined ? targets : range(published);
  if (!targets || !hosts) {
    fail(ctx, at, `ports must be 1..65535, got ${published ? `${published}:` : ""}${container}`);
    return [];
  }
  if (hosts.length !== targets.length && !(targets.length === 1 && hosts.length > 1)) {
    fail(
      ctx,
      at,
      `the published range has ${hosts.length} ports, the container range ${targets.length}`,
    );
    return [];
  }
  return targets.map((c, i) => ({ container: c, offset: hosts[i]! % 1000, protocol }));
}

function range(text: string): number[] | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || hi < lo) return undefined;
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

export function uniquePorts(ports: PortOut[]): PortOut[] {
  const seen = new Set<string>();
  return ports.filter((p) => {
    const k = `${p.container}/${p.offset}/${p.protocol}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

// ---------------------------------------------------------------------------------------------
// volumes

const VOLUME_MODES = ["ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy"];

export function volumeEntry(ctx: Ctx, at: Path, v: unknown): VolumeOut | undefined {
  const loc = where(ctx, at);
  if (typeof v === "string") {
    const parts = v.split(":");
    if (parts.length > 3 || parts.some((x) => !x)) {
      return void fail(ctx, at, `must be "SOURCE:TARGET[:MODE]" or a container path, got "${v}"`);
    }
    const [first = "", second, mode] = parts;
    const modes = mode?.split(",") ?? [];
    const bad = modes.find((x) => !VOLUME_MODES.includes(x));
    if (bad) return void fail(ctx, at, `unknown volume mode "${bad}" in "${v}"`);
    const target = second ?? first;
    if (!target.startsWith("/"))
      return void fail(ctx, at, `target "${target}" must be an absolute path`);
    const read_only = modes.includes("ro");
    if (second === undefined) return { target, read_only, named: false, at: loc };
    const bind = /^[./~]/.test(first);
    return {
      source: bind ? hostPath(ctx.dir, first) : first,
      target,
      read_only,
      named: !bind,
      at: loc,
    };
  }
  if (!isObj(v))
    return void fail(ctx, at, `must be a string or a mapping, got ${describeValue(v)}`);
  for (const [k, x] of Object.entries(v)) {
    if (k === "bind" || k === "volume")
      warn(ctx, [...at, k], `"${k}" options are ignored by envctl`);
    else if (!["type", "source", "target", "read_only", "consistency"].includes(k))
      fail(ctx, [...at, k], NOT_SUPPORTED);
    else if (k !== "read_only" && typeof x !== "string")
      fail(ctx, [...at, k], `must be a string, got ${describeValue(x)}`);
  }
  const { type, source, target, read_only = false } = v as Record<string, string | undefined>;
  if (type !== "volume" && type !== "bind") {
    return void fail(
      ctx,
      [...at, "type"],
      `"${type}" mounts are ${NOT_SUPPORTED} (volume or bind)`,
    );
  }
  if (typeof target !== "string" || !target.startsWith("/"))
    return void fail(ctx, [...at, "target"], "must be an absolute path in the container");
  if (typeof read_only !== "boolean")
    return void fail(ctx, [...at, "read_only"], "must be true or false");
  if (type === "bind" && !source)
    return void fail(ctx, [...at, "source"], "required for a bind mount");
  if (!source) return { target, read_only, named: false, at: loc };
  if (type === "bind")
    return { source: hostPath(ctx.dir, source), target, read_only, named: false, at: loc };
  return { source, target, read_only, named: true, at: loc };
}

/** Later mounts replace earlier ones on the same target, in place. */
export function byTarget(a: VolumeOut[], b: VolumeOut[]): VolumeOut[] {
  const out = [...a];
  for (const v of b) {
    const i = out.findIndex((x) => x.target === v.target);
    if (i >= 0) out[i] = v;
    else out.push(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// healthcheck and depends_on

export function healthcheck(ctx: Ctx, at: Path, v: unknown): HealthLayer | undefined {
  if (!isObj(v)) return void fail(ctx, at, `must be a mapping, got ${describeValue(v)}`);
  const h: HealthLayer = { at: where(ctx, at) };
  for (const [k, x] of Object.entries(v)) {
    const kat = [...at, k];
    if (k === "test") {
      const t = healthTest(ctx, kat, x);
      if (t !== undefined) h.test = t;
    } else if (k === "disable") {
      if (typeof x === "boolean") h.disable = x;
      else fail(ctx, kat, "must be true or false");
    } else if (k === "interval" || k === "timeout" || k === "start_period") {
      const d = duration(x);
      if (d === undefined)
        fail(ctx, kat, `must be a duration like "5s" or "1m30s", got ${describeValue(x)}`);
      else h[k] = d;
    } else if (k === "retries") {
      if (typeof x === "number" && Number.isInteger(x) && x >= 1) h.retries = x;
      else fail(ctx, kat, `must be a whole number of at least 1, got ${describeValue(x)}`);
    } else if (k === "start_interval") {
      warn(ctx, kat, '"start_interval" is ignored: envctl probes at "interval" from the start');
    } else if (!k.startsWith("x-")) fail(ctx, kat, NOT_SUPPORTED);
  }
  return h;
}

/** `["CMD", ...argv]`, `["CMD-SHELL", cmd]`, a string (shell) or `["NONE"]` (null). */
function healthTest(ctx: Ctx, at: Path, v: unknown): string | null | undefined {
  if (typeof v === "string" && v.trim()) return v;
  const words = Array.isArray(v) && v.every((w) => typeof w === "string") ? v : undefined;
  const [kind, ...rest] = words ?? [];
  if (kind === "NONE") return null;
  if ((kind === "CMD" || kind === "CMD-SHELL") && rest.length > 0) {
    return kind === "CMD"
      ? rest.map((w) => shellQuote(w, { minimal: true })).join(" ")
      : rest.join(" ");
  }
  return void fail(
    ctx,
    at,
    'must be a command, or a list starting with "CMD", "CMD-SHELL" or "NONE"',
  );
}

const GO_DURATION_RE = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
/** envctl's duration form (schema.ts DURATION_RE); anything else is rewritten in milliseconds. */
const ENVCTL_DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const NS_PER: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 6e10,
  h: 3.6e12,
};

/** A compose (Go) duration as envctl reads it: `"1m30s"` stays, `"1500us"` becomes `"1.5ms"`. */
function duration(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  if (v === "0") return "0s";
  if (ENVCTL_DURATION_RE.test(v)) return v;
  if (!GO_DURATION_RE.test(v)) return undefined;
  let ns = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    ns += Number(m[1]) * (NS_PER[m[2]!] ?? 0);
  }
  return `${Number((ns / 1e6).toFixed(6))}ms`;
}

export function dependsOn(ctx: Ctx, at: Path, v: unknown): Layer["depends"] {
  if (Array.isArray(v)) {
    const deps: Record<string, { condition?: string }> = {};
    v.forEach((d, i) => {
      if (typeof d === "string" && d) deps[d] = {};
      else fail(ctx, [...at, i], `must be a service name, got ${describeValue(d)}`);
    });
    return { list: true, deps };
  }
  if (!isObj(v)) return void fail(ctx, at, `must be a list or a mapping, got ${describeValue(v)}`);
  const deps: Record<string, { condition?: string }> = {};
  for (const [name, d] of Object.entries(v)) {
    const dat = [...at, name];
    if (d !== null && !isObj(d)) {
      fail(ctx, dat, `must be a mapping with "condition", got ${describeValue(d)}`);
      continue;
    }
    deps[name] = {};
    for (const [k, x] of Object.entries(d ?? {})) {
      if (k === "condition" && (x === "service_started" || x === "service_healthy")) {
        deps[name] = { condition: x };
      } else if (k === "condition" && x === "service_completed_successfully") {
        fail(
          ctx,
          [...dat, k],
          `"${x}" is ${NOT_SUPPORTED}: services run until stopped; use init steps for one-off jobs`,
        );
      } else if (k === "condition") {
        fail(ctx, [...dat, k], 'must be "service_started" or "service_healthy"');
      } else if (k === "restart" || (k === "required" && x === false)) {
        warn(
          ctx,
          [...dat, k],
          `"${k}" is ignored: envctl always waits for dependencies and never restarts dependents`,
        );
      } else if (k !== "required") fail(ctx, [...dat, k], NOT_SUPPORTED);
    }
  }
  return { list: false, deps };
}
