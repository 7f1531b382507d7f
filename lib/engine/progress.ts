import type { EngineEvent, OpType, StepEventMetadata } from "@pulumi/pulumi/automation";
import { changedKeys } from "../core/canonical";

/** A resource operation as envctl reports it (human lines and --json alike). */
export interface ResourceOp {
  op: OpType;
  type: string;
  name: string;
  status: "started" | "done" | "failed";
  elapsedMs?: number;
  /** Changed inputs, when the engine reports them. */
  diffs?: string[];
}

const VERBS: Partial<Record<OpType, [string, string]>> = {
  create: ["creating", "created"],
  update: ["updating", "updated"],
  delete: ["deleting", "deleted"],
  replace: ["replacing", "replaced"],
  "create-replacement": ["creating replacement", "created replacement"],
  "delete-replaced": ["deleting replaced", "deleted replaced"],
  refresh: ["refreshing", "refreshed"],
  read: ["reading", "read"],
};
const SIGN: Partial<Record<OpType, string>> = {
  create: "+",
  update: "~",
  delete: "-",
  replace: "+-",
  "create-replacement": "++",
  "delete-replaced": "--",
};

/** Short type: `pulumi-nodejs:dynamic/envctl:Container` -> `Container`, `envctl:devenv:Worktree` -> `Worktree`. */
export function shortType(type: string): string {
  return type.split(":").pop() ?? type;
}

export function urnName(urn: string): string {
  return urn.split("::").pop() ?? urn;
}

/**
 * Turns engine events into one line per resource operation (started and finished), skipping
 * no-op `same` steps and component wrappers. Collects every op for the --json report.
 */
export class Progress {
  readonly ops: ResourceOp[] = [];
  readonly diagnostics: string[] = [];
  private readonly started = new Map<string, number>();

  constructor(
    private readonly write: ((line: string) => void) | undefined,
    private readonly dryRun: boolean,
  ) {}

  onEvent = (e: EngineEvent): void => {
    const meta =
      e.resourcePreEvent?.metadata ?? e.resOutputsEvent?.metadata ?? e.resOpFailedEvent?.metadata;
    if (e.diagnosticEvent) {
      const d = e.diagnosticEvent;
      if ((d.severity === "error" || d.severity === "warning") && !d.ephemeral) {
        const msg = d.message.replace(/\u001b\[[0-9;]*m/g, "").trim();
        if (msg) {
          this.diagnostics.push(`${d.severity}: ${msg}`);
          this.write?.(`  ${d.severity}: ${msg}`);
        }
      }
      return;
    }
    if (!meta || meta.op === "same" || !VERBS[meta.op]) return;
    if (!meta.type.startsWith("pulumi-nodejs:")) return; // components have no real operation
    const name = urnName(meta.urn);
    const type = shortType(meta.type);
    const sign = SIGN[meta.op] ?? " ";
    const [doing, done] = VERBS[meta.op]!;
    if (e.resourcePreEvent) {
      this.started.set(meta.urn, Date.now());
      const diffs = changedInputs(meta);
      if (this.dryRun) {
        // A replacement is one planned change; its create/delete halves are how it is carried out.
        if (meta.op === "create-replacement" || meta.op === "delete-replaced") return;
        this.ops.push({ op: meta.op, type, name, status: "done", diffs });
        this.write?.(
          `  ${sign} ${type} ${name}: ${meta.op}${diffs?.length ? ` (${diffs.join(", ")})` : ""}`,
        );
      } else {
        this.write?.(`  ${sign} ${type} ${name}: ${doing}...`);
      }
    } else if (e.resOutputsEvent && !this.dryRun) {
      const elapsedMs = Date.now() - (this.started.get(meta.urn) ?? Date.now());
      this.ops.push({
        op: meta.op,
        type,
        name,
        status: "done",
        elapsedMs,
        diffs: changedInputs(meta),
      });
      this.write?.(`  ${sign} ${type} ${name}: ${done} (${(elapsedMs / 1000).toFixed(1)}s)`);
    } else if (e.resOpFailedEvent) {
      this.ops.push({ op: meta.op, type, name, status: "failed" });
      this.write?.(`  ! ${type} ${name}: ${meta.op} failed`);
    }
  };
}

/** The inputs an update/replace changes: the engine's list when it has one, else computed. */
function changedInputs(meta: StepEventMetadata): string[] | undefined {
  if (meta.op !== "update" && meta.op !== "replace") return undefined;
  const listed = (meta.diffs ?? []).filter((d) => !d.startsWith("__"));
  if (listed.length > 0) return listed;
  return changedKeys(meta.old?.inputs ?? {}, meta.new?.inputs ?? {});
}
