import type * as pulumi from "@pulumi/pulumi";
import type { ResolvedEnv } from "../lib/spec/model";

/** What a kind's program returns: the `env` output, or it and the `deploy` output (hivesync). */
export type ProgramResult =
  | pulumi.Output<Record<string, unknown>>
  | { env: pulumi.Output<Record<string, unknown>>; deploy: pulumi.Output<unknown> };

export type Program = (env: ResolvedEnv) => ProgramResult;
