/** The devenv program: one DevEnv component from the resolved env in stack config. */
import type * as pulumi from "@pulumi/pulumi";
import { DevEnv } from "../components/devenv/devenv";
import type { ResolvedEnv } from "../lib/spec/model";

export function program(env: ResolvedEnv): pulumi.Output<Record<string, unknown>> {
  return new DevEnv(env.name, env).outputs;
}
