/**
 * Which TCP ports a set of processes listens on, from Linux /proc: the listening sockets in
 * /proc/net/tcp and tcp6 (this network namespace), matched by inode against the processes'
 * open descriptors (`/proc/<pid>/fd/* -> socket:[inode]`). Elsewhere, or when /proc cannot be
 * read, the answer is "unknown" rather than a guess.
 */
import * as fs from "node:fs";

const TCP_LISTEN = "0A";

/** Listening TCP sockets in a /proc/net/tcp{,6} table: inode -> local port. */
export function parseListeners(table: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
    const port = parseInt(f[1]!.split(":").pop() ?? "", 16);
    const inode = Number(f[9]);
    if (Number.isFinite(port) && inode > 0) out.set(inode, port);
  }
  return out;
}

/** Every listening TCP socket of this network namespace; undefined without /proc/net. */
function listeners(): Map<number, number> | undefined {
  const all = new Map<number, number>();
  let found = false;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      for (const [inode, port] of parseListeners(fs.readFileSync(file, "utf8"))) {
        all.set(inode, port);
      }
      found = true;
    } catch {
      // no IPv6, or not Linux
    }
  }
  return found ? all : undefined;
}

function socketInodes(pid: number): number[] | undefined {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined; // gone, or not ours
  }
  return fds.flatMap((fd) => {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      return m ? [Number(m[1])] : [];
    } catch {
      return []; // closed meanwhile
    }
  });
}

export interface Listening {
  /** TCP ports the processes listen on, ascending. */
  mine: number[];
  /** Every TCP port something in this network namespace listens on. */
  any: Set<number>;
}

/** What `pids` listen on; undefined when it cannot be known (no /proc, no readable pid). */
export function listeningPorts(pids: number[]): Listening | undefined {
  const table = listeners();
  if (!table) return undefined;
  const mine = new Set<number>();
  let readable = false;
  for (const pid of pids) {
    const inodes = socketInodes(pid);
    if (!inodes) continue;
    readable = true;
    for (const inode of inodes) {
      const port = table.get(inode);
      if (port !== undefined) mine.add(port);
    }
  }
  if (!readable) return undefined;
  return { mine: [...mine].sort((a, b) => a - b), any: new Set(table.values()) };
}

/**
 * How a host port of a service reads next to what its processes listen on: `10000` when they
 * listen there (or nothing is known), otherwise why not.
 */
export function describePort(host: number, seen: Listening | undefined): string {
  if (!seen || seen.mine.includes(host)) return String(host);
  if (seen.any.has(host)) return `${host} (another process listens there)`;
  const elsewhere = seen.mine.length > 0 ? `; it listens on ${seen.mine.join(", ")}` : "";
  return `${host} (not listening${elsewhere})`;
}
