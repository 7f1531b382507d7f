import { openEngine, selectStack } from "../../lib/engine/automation";
import { engineFailure } from "../../lib/engine/errors";
import { withState } from "../../lib/kinds/devenv/lifecycle";
import { checkName, readCatalog, refuseMissing, seams, type CommandSeams } from "../context";
import { jsonDoc, servicesTable } from "../ui/output";

export interface OutputsOptions extends CommandSeams {
  name: string;
  json?: boolean;
}

/** The env's stack outputs (host ports, URLs, worktree path, branch) and its desired state. */
export async function outputs(opts: OutputsOptions): Promise<Record<string, unknown>> {
  const s = seams(opts);
  checkName(opts.name);
  await refuseMissing(s.home, opts.name);
  const engine = await openEngine(s.home);
  const stack = await selectStack(engine, opts.name);
  const all = await stack.outputs().catch((err: unknown) => {
    throw engineFailure(err, { verb: "reading the outputs", env: opts.name });
  });
  const stackOut = (all.env?.value as Record<string, unknown> | undefined) ?? {};
  // What the desired state runs is the catalog's; the stack's outputs do not depend on it.
  const catalog = readCatalog(s.home);
  const rec = catalog?.getEnv(opts.name);
  catalog?.close();
  const out = rec?.resolved
    ? withState(stackOut, {
        state: rec.state,
        services: rec.resolved.services,
        ...(rec.resolved.only ? { only: rec.resolved.only } : {}),
      })
    : stackOut;
  s.out(opts.json ? jsonDoc("outputs", { env: opts.name, outputs: out }) : servicesTable(out));
  return out;
}
