/**
 * A stack's last checkpoint, read without running the program: which resources it holds (URN,
 * type, parent) and the root stack's outputs. A file backend's checkpoint is read from disk
 * (`.pulumi/stacks/envctl/<stack>.json`, or `.json.gz`), which costs no pulumi process; any
 * other backend is asked with `pulumi stack export`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { fileBackendDir, PROJECT, type Engine } from "./automation";
import { runPulumi } from "./update";

export interface StateResource {
  urn: string;
  type: string;
  parent?: string;
  /** The URNs it depends on (explicit and through its inputs). */
  dependencies?: string[];
  /** Its outputs as the checkpoint holds them (a secret stays an encrypted envelope). */
  outputs?: Record<string, unknown>;
}

export interface StackState {
  resources: StateResource[];
  /** Operations a pulumi process began and never finished (lib/engine/heal.ts clears them). */
  pendingOperations: number;
  /** The root stack resource's outputs. */
  outputs: Record<string, unknown>;
}

interface Deployment {
  resources?: {
    urn: string;
    type: string;
    parent?: string;
    dependencies?: string[];
    outputs?: Record<string, unknown>;
  }[];
  pending_operations?: unknown[];
}

function fromDeployment(d: Deployment | undefined): StackState {
  const resources = d?.resources ?? [];
  const root = resources.find((r) => r.type === "pulumi:pulumi:Stack");
  return {
    resources: resources.map((r) => ({
      urn: r.urn,
      type: r.type,
      ...(r.parent ? { parent: r.parent } : {}),
      ...(r.dependencies?.length ? { dependencies: r.dependencies } : {}),
      ...(r.outputs ? { outputs: r.outputs } : {}),
    })),
    pendingOperations: d?.pending_operations?.length ?? 0,
    outputs: root?.outputs ?? {},
  };
}

/** The checkpoint file of a file backend, undefined when the backend is another kind. */
function readFileBackend(engine: Pick<Engine, "env">, stack: string): Deployment | undefined {
  const dir = fileBackendDir(engine.env);
  if (!dir) return undefined;
  const base = path.join(dir, "stacks", PROJECT, stack);
  let text: string;
  if (fs.existsSync(`${base}.json`)) text = fs.readFileSync(`${base}.json`, "utf8");
  else if (fs.existsSync(`${base}.json.gz`))
    text = zlib.gunzipSync(fs.readFileSync(`${base}.json.gz`)).toString("utf8");
  else return undefined;
  // The file backend's format: { version, checkpoint: { stack, latest: <deployment> } }.
  const doc = JSON.parse(text) as { checkpoint?: { latest?: Deployment } };
  return doc.checkpoint?.latest ?? {};
}

/**
 * The root stack's outputs as a file backend's checkpoint holds them (secrets as their
 * envelopes), read from disk; undefined for another kind of backend or a stack it lacks.
 */
export function checkpointOutputs(
  engine: Pick<Engine, "env">,
  stack: string,
): Record<string, unknown> | undefined {
  const local = readFileBackend(engine, stack);
  return local ? fromDeployment(local).outputs : undefined;
}

export async function readStack(engine: Engine, stack: string): Promise<StackState> {
  const local = readFileBackend(engine, stack);
  if (local) return fromDeployment(local);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-state-"));
  const file = path.join(dir, "state.json");
  try {
    await runPulumi(engine, ["stack", "export", "--stack", stack, "--file", file]);
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { deployment?: Deployment };
    return fromDeployment(doc.deployment);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
