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
  worktree?: string;
  branch?: string;
  services?: Record<string, { container: string; ports: Record<string, number>; urls: string[] }>;
}

/** The "where does it answer" table printed after up/outputs. */
export function servicesTable(outputs: EnvOutputs): string {
  const rows = Object.entries(outputs.services ?? {}).map(([name, s]) => [
    name,
    Object.entries(s.ports)
      .map(([c, h]) => `${h}->${c}`)
      .join(" "),
    s.urls.join(" "),
  ]);
  const lines = [table(["service", "ports (host->container)", "urls"], rows)];
  if (outputs.worktree)
    lines.push(`worktree: ${outputs.worktree}  (branch ${outputs.branch ?? "?"})`);
  return lines.join("\n");
}
