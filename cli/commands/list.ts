import { blockBase } from "../../lib/ports";
import { openCatalog, seams, type CommandSeams } from "../context";
import { jsonDoc, table } from "../output";

export interface ListOptions extends CommandSeams {
  json?: boolean;
}

/** Lists envs from the catalog: no engine call, so it stays fast with many envs. */
export function list(opts: ListOptions): void {
  const s = seams(opts);
  const catalog = openCatalog(s.home);
  try {
    const envs = catalog.listEnvs();
    if (opts.json) {
      s.out(
        jsonDoc("list", {
          envs: envs.map((e) => ({
            name: e.name,
            kind: e.kind,
            status: e.status,
            host: e.host,
            block: e.block,
            ports:
              e.block === null ? null : { from: blockBase(e.block), to: blockBase(e.block) + 999 },
            branch: e.branch,
            worktree: e.worktreePath,
            updatedAt: new Date(e.updatedAtMs).toISOString(),
          })),
        }),
      );
      return;
    }
    if (envs.length === 0) {
      s.out("no envs; create one with `envctl up NAME -f envctl.yaml`");
      return;
    }
    s.out(
      table(
        ["name", "kind", "status", "ports", "branch", "worktree"],
        envs.map((e) => [
          e.name,
          e.kind,
          e.status,
          e.block === null ? "-" : `${blockBase(e.block)}-${blockBase(e.block) + 999}`,
          e.branch ?? "-",
          e.worktreePath ?? "-",
        ]),
      ),
    );
  } finally {
    catalog.close();
  }
}
