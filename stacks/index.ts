/**
 * The envctl Pulumi program. One stack per environment; the stack config holds everything the
 * program needs (`envctl:kind` and the resolved env as `envctl:env`), so `pulumi preview` run by
 * hand in the home's project directory plans exactly what `envctl preview` plans.
 *
 * The kind's program module (stacks/<kind>.ts) is loaded only for that kind: a devenv never
 * loads a cloud SDK.
 */
import * as pulumi from "@pulumi/pulumi";
import { kindOf, type KindDef } from "../lib/kinds";
import type { Program, ProgramResult } from "./program";

/**
 * Run by the engine (Pulumi's language runtime), stack traces are left unmapped. That runtime
 * installs source-map-support, and the SDK takes a full stack trace for every resource it
 * registers (its source position): mapping those through the source maps of every file on the
 * stack, @pulumi/pulumi's own among them, costs ~0.2 s a run. envctl's failures reach the user
 * as worded errors, not traces.
 */
if (/[\\/]@pulumi[\\/]pulumi[\\/]cmd[\\/]run[\\/]/.test(process.argv[1] ?? "")) {
  (Error as { prepareStackTrace?: unknown }).prepareStackTrace = undefined;
}

/** The program of one kind, loaded by name from this directory. */
export function loadProgram(def: KindDef): Program {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(`./${def.program}`) as { program: Program }).program;
}

/** A RunError is reported as its message alone, without a stack trace. */
function reported<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new pulumi.RunError(err instanceof Error ? err.message : String(err));
  }
}

function build(): ProgramResult {
  const config = new pulumi.Config("envctl");
  const def = reported(() => kindOf(config.require("kind"), "stack config envctl:kind"));
  const env = reported(() =>
    def.upgrade(config.requireObject<unknown>("env"), "stack config envctl:env"),
  );
  return loadProgram(def)(env);
}

const built = build();
export const env = pulumi.Output.isInstance(built) ? built : built.env;
// Only a kind that has it exports `deploy`: other stacks' outputs stay as they were.
if (!pulumi.Output.isInstance(built))
  (module.exports as Record<string, unknown>).deploy = built.deploy;
