import { blockBase } from "../../lib/spec/ports";
import {
  envReality,
  type ContainerMap,
  type DockerTrouble,
  type EnvReality,
} from "../../lib/kinds/devenv/reality";
import { readCatalog, seams, type CommandSeams } from "../context";
import { jsonDoc, table } from "../ui/output";

export interface ListOptions extends CommandSeams {
  json?: boolean;
}

/**
 * Lists envs with the state derived from what actually runs: the catalog, one Docker call and
 * the daemons' pid files; no `pulumi` process, nothing written. `⚠` marks an env whose reality
 * disagrees with its desired state, with the reason.
 */
export async function list(opts: ListOptions): Promise<void> {
  const s = seams(opts);
  const catalog = readCatalog(s.home);
  let envs;
  try {
    envs = catalog?.listEnvs() ?? [];
  } finally {
    catalog?.close();
  }
  // Each engine the envs' containers run on is asked once: this machine's, and a remote one
  // (a hivesync env's SSH host or VM) for its envs.
  const engines = new Set(
    envs
      .filter((e) => e.resolved?.services.some((svc) => svc.type === "container"))
      .map((e) => e.resolved!.dockerHost ?? ""),
  );
  const byEngine = new Map<string, ContainerMap | DockerTrouble | undefined>();
  if (engines.size > 0) {
    const { envctlContainers } = await import("../../lib/kinds/devenv/reality");
    await Promise.all(
      [...engines].map(async (h) => byEngine.set(h, await envctlContainers(h || undefined))),
    );
  }
  const rows = envs.map((e) => ({
    e,
    reality: e.resolved
      ? envReality(
          e.resolved,
          e.state,
          // Not asked (no container services): nothing runs there; asked, its answer (an
          // engine that did not answer is undefined: unknown, not stopped).
          byEngine.has(e.resolved.dockerHost ?? "")
            ? byEngine.get(e.resolved.dockerHost ?? "")
            : new Map(),
        )
      : undefined,
  }));
  const ports = (block: number | null): string =>
    block === null ? "-" : `${blockBase(block)}-${blockBase(block) + 999}`;
  if (opts.json) {
    s.out(
      jsonDoc("list", {
        envs: rows.map(({ e, reality }) => ({
          name: e.name,
          kind: e.kind,
          state: reality?.actual ?? e.state,
          desired: e.state,
          warnings: e.unreadable ? [e.unreadable] : (reality?.warnings ?? []),
          status: e.status,
          host: e.host,
          block: e.block,
          ports:
            e.block === null ? null : { from: blockBase(e.block), to: blockBase(e.block) + 999 },
          branch: e.branch,
          worktree: e.worktreePath,
          services: reality?.services.map((r) => ({
            name: r.name,
            type: r.type,
            expected: r.expected,
            running: r.running,
          })),
          updatedAt: new Date(e.updatedAtMs).toISOString(),
        })),
      }),
    );
    return;
  }
  if (envs.length === 0) {
    s.out("no envs; create one with `envctl spawn NAME` or `envctl up NAME -f envctl.yaml`");
    return;
  }
  s.out(
    table(
      ["name", "state", "ports", "branch", "services", "worktree"],
      rows.map(({ e, reality }) => [
        e.name,
        e.unreadable ? `? ⚠\n(${e.unreadable})` : stateCell(e.state, e.status, reality),
        ports(e.block),
        e.branch ?? "-",
        reality ? servicesCell(reality) : "-",
        e.worktreePath ?? "-",
      ]),
    ),
  );
}

function stateCell(desired: string, status: string, reality: EnvReality | undefined): string {
  const st = status === "ready" ? "" : ` (${status})`;
  if (!reality || reality.warnings.length === 0) return `${desired}${st}`;
  return `${reality.actual} ⚠${st}\n(${reality.warnings.join(", ")})`;
}

function servicesCell(r: EnvReality): string {
  const expected = r.services.filter((s) => s.expected);
  const up = expected.filter((s) => s.running).length;
  return `${up}/${expected.length} running`;
}
