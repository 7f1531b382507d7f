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
import type { ResolvedEnv } from "../lib/spec/model";

type Program = (env: ResolvedEnv) => pulumi.Output<Record<string, unknown>>;

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

function build(): pulumi.Output<Record<string, unknown>> {
  const config = new pulumi.Config("envctl");
  const def = reported(() => kindOf(config.require("kind"), "stack config envctl:kind"));
  const env = reported(() =>
    def.upgrade(config.requireObject<unknown>("env"), "stack config envctl:env"),
  );
  return loadProgram(def)(env);
}

export const env = build();
