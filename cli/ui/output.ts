import Table from "cli-table3";

export const JSON_VERSION = 1;

/** One versioned JSON document: the only thing `--json` prints on stdout. */
export function jsonDoc(kind: string, body: Record<string, unknown>): string {
  return JSON.stringify({ version: JSON_VERSION, kind, ...body }, null, 2);
}

export function table(head: string[], rows: (string | number)[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map(String));
  return t.toString();
}

interface EnvOutputs {
  state?: string;
  worktree?: string;
  branch?: string;
  envSh?: string;
  services?: Record<
    string,
    {
      type?: string;
      running?: boolean;
      ports: Record<string, number>;
      urls: string[];
      proxy?: string;
    }
  >;
}

/**
 * A container's ports are mapped (`10432->5432`); a process is not: it listens on the host
 * port itself, which is all there is to show (`10000`).
 */
export function portsText(type: string | undefined, ports: Record<string, number>): string {
  const mapped = (type ?? "container") === "container";
  return (
    Object.entries(ports)
      .map(([own, host]) => (mapped ? `${host}->${own}` : String(host)))
      .join(" ") || "-"
  );
}

/** The "where does it answer" table printed after up and the lifecycle verbs. */
export function servicesTable(outputs: EnvOutputs): string {
  const rows = Object.entries(outputs.services ?? {}).map(([name, s]) => [
    name,
    s.type ?? "container",
    s.running === false ? `not while ${outputs.state ?? "cold"}` : "running",
    portsText(s.type, s.ports),
    s.running === false ? "-" : [s.proxy, ...s.urls].filter(Boolean).join(" ") || "-",
  ]);
  const lines = [table(["service", "type", "state", "ports (host->container)", "urls"], rows)];
  if (outputs.worktree)
    lines.push(`worktree: ${outputs.worktree}  (branch ${outputs.branch ?? "?"})`);
  if (outputs.envSh) lines.push(`env.sh:   ${outputs.envSh}`);
  return lines.join("\n");
}
