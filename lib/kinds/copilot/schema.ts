/**
 * `envctl schema NAME`: the document's `copilot dev schema setup`. Every step is attempted even
 * after one fails (property 4 of the document), each is reported ok or failed with its reason,
 * and the verb fails (exit 1) when any did.
 */

export interface SchemaStep {
  /** One line: which cluster, which store, what. */
  name: string;
  /** Resolves with a short detail on success; rejects (or throws) with the reason. */
  run: () => Promise<string>;
}

export interface StepResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** Runs every step in order, whatever the earlier ones did. */
export async function runSteps(
  steps: SchemaStep[],
  onResult: (r: StepResult) => void = () => undefined,
): Promise<StepResult[]> {
  const out: StepResult[] = [];
  for (const step of steps) {
    let r: StepResult;
    try {
      r = { name: step.name, ok: true, detail: await step.run() };
    } catch (err) {
      r = { name: step.name, ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    out.push(r);
    onResult(r);
  }
  return out;
}

/** Where one cluster's Temporal schema goes: its DSQL endpoint and database. */
export interface ClusterTarget {
  host: string;
  port: string;
  user: string;
  database: string;
}

/** The command that applies Temporal's schema to one DSQL cluster (temporal-sql-tool). */
export function sqlToolArgs(t: ClusterTarget, schemaDir: string): string[][] {
  const conn = [
    "--plugin",
    "dsql",
    "--ep",
    t.host,
    "--port",
    t.port,
    "--user",
    t.user,
    "--db",
    t.database,
  ];
  return [
    ["temporal-sql-tool", ...conn, "setup-schema", "-v", "0.0"],
    ["temporal-sql-tool", ...conn, "update-schema", "-d", schemaDir],
  ];
}
