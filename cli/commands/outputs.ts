import { openEngine, selectStack } from "../../lib/engine/automation";
import { engineFailure } from "../../lib/engine/errors";
import { checkName, refuseMissing, seams, type CommandSeams } from "../context";
import { jsonDoc, servicesTable } from "../ui/output";

export interface OutputsOptions extends CommandSeams {
  name: string;
  json?: boolean;
}

/** The env's stack outputs: host ports, URLs, worktree path, branch. */
export async function outputs(opts: OutputsOptions): Promise<Record<string, unknown>> {
  const s = seams(opts);
  checkName(opts.name);
  await refuseMissing(s.home, opts.name);
  const engine = await openEngine(s.home);
  const stack = await selectStack(engine, opts.name);
  const all = await stack.outputs().catch((err: unknown) => {
    throw engineFailure(err, { verb: "reading the outputs", env: opts.name });
  });
  const out = (all.env?.value as Record<string, unknown> | undefined) ?? {};
  s.out(opts.json ? jsonDoc("outputs", { env: opts.name, outputs: out }) : servicesTable(out));
  return out;
}
