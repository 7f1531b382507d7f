import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import TailFile from "@logdna/tail-file";
import type { EngineEvent, OpMap } from "@pulumi/pulumi/automation";
import type { Engine } from "./automation";
import { mapEngineError, PulumiFailure } from "./errors";

export interface UpdateResult {
  /** The stack's outputs as the engine reported them on the root resource. */
  outputs: Record<string, unknown>;
  changes: OpMap;
  durationSeconds: number;
}

/**
 * `pulumi up` for one stack, streaming engine events from the event log. Unlike the Automation
 * API's Stack.up, it reads the stack outputs from the event stream instead of starting three more
 * pulumi processes afterwards (outputs, secret outputs, history): a no-op up costs one process.
 * A failed update rejects with a PulumiFailure; lib/engine/errors.ts `engineFailure` words it.
 */
export function runUp(
  engine: Engine,
  stack: string,
  opts: {
    onEvent?: (e: EngineEvent) => void;
    signal?: AbortSignal;
    /** Only these URNs (wildcards allowed) are created, updated or deleted. */
    targets?: string[];
  },
): Promise<UpdateResult> {
  const args = ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack];
  for (const urn of opts.targets ?? []) args.push("--target", urn);
  return runUpdate(engine, args, opts);
}

/**
 * `pulumi destroy` of some of a stack's resources (`targets`, URNs), without running the program:
 * how a verb that only removes things (cool, stop) skips the language host and the program.
 * Resolves with no outputs (the engine reports none: the stack's stay as they were). Without
 * --target-dependents, a resource outside `targets` that depends on one fails the destroy
 * before anything is deleted.
 */
export function runDestroy(
  engine: Engine,
  stack: string,
  targets: string[],
  opts: { onEvent?: (e: EngineEvent) => void; signal?: AbortSignal },
): Promise<UpdateResult> {
  const args = ["destroy", "--yes", "--skip-preview", "--non-interactive", "--stack", stack];
  for (const urn of targets) args.push("--target", urn);
  return runUpdate(engine, args, opts);
}

/** Runs an update command (`args`) with its engine events streamed from the event log. */
async function runUpdate(
  engine: Engine,
  command: string[],
  opts: { onEvent?: (e: EngineEvent) => void; signal?: AbortSignal },
): Promise<UpdateResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-events-"));
  const logFile = path.join(dir, "events.json");
  fs.writeFileSync(logFile, "");
  let outputs: Record<string, unknown> = {};
  let changes: OpMap = {};
  let durationSeconds = 0;
  const tail = new TailFile(logFile, { startPos: 0, pollFileIntervalMs: 100 });
  await tail.start();
  const lines = readline.createInterface({ input: tail });
  const done = new Promise<void>((resolve) => lines.on("close", resolve));
  lines.on("line", (line) => {
    let event: EngineEvent;
    try {
      event = JSON.parse(line) as EngineEvent;
    } catch {
      return; // a partial line at shutdown
    }
    const meta = event.resOutputsEvent?.metadata;
    if (meta?.type === "pulumi:pulumi:Stack" && meta.new?.outputs) outputs = meta.new.outputs;
    if (event.summaryEvent) {
      changes = event.summaryEvent.resourceChanges;
      durationSeconds = event.summaryEvent.durationSeconds;
    }
    opts.onEvent?.(event);
  });
  const args = [...command, "--exec-kind", "auto.local", "--event-log", logFile];
  try {
    await runPulumi(engine, args, opts.signal);
  } finally {
    await tail.quit(); // reads what the engine wrote last, then stops polling
    lines.close();
    await done;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { outputs, changes, durationSeconds };
}

/**
 * `pulumi stack init` for a new env: the stack, and its settings file in the home's project with the
 * encryption salt (lib/engine/automation.ts ensureConfig writes the env's config into it).
 */
export async function initStack(
  engine: Engine,
  stack: string,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await runPulumi(
      engine,
      ["stack", "init", "--stack", stack, "--no-select", "--non-interactive"],
      signal,
    );
  } catch (err) {
    throw mapEngineError(err, stack);
  }
}

/** Keeps the end of what a pulumi process prints (its Diagnostics section comes last). */
const OUTPUT_LIMIT = 256 * 1024;
const keepTail = (text: string): string =>
  text.length > OUTPUT_LIMIT ? text.slice(-OUTPUT_LIMIT) : text;

/**
 * Runs the workspace's pulumi binary with the engine env. An abort sends SIGINT, which the CLI
 * handles by finishing in-flight operations and writing state, so the stack stays recoverable.
 * Resolves with its stdout (the last 256 KiB); rejects with a PulumiFailure holding what the
 * process printed.
 */
export function runPulumi(
  engine: Engine,
  args: string[],
  signal?: AbortSignal,
  /** Written to the command's stdin (a secret value: never on the command line). */
  input?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(engine.pulumi, args, {
      cwd: engine.project,
      // PULUMI_DEBUG_COMMANDS enables --event-log, as the Automation API does.
      env: { ...process.env, ...engine.env, PULUMI_DEBUG_COMMANDS: "true" },
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (input !== undefined) child.stdin!.end(input);
    let stderr = "";
    let stdout = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr = keepTail(stderr + d)));
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout = keepTail(stdout + d)));
    const onAbort = (): void => void child.kill("SIGINT");
    signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", reject);
    child.on("close", (code) => {
      signal?.removeEventListener("abort", onAbort);
      if (code === 0) return resolve(stdout);
      const command = args.slice(0, args[0] === "stack" ? 2 : 1).join(" ");
      reject(new PulumiFailure(command, code, stderr, stdout));
    });
  });
}
