/**
 * The stack kinds envctl knows, in one registry: what each one's spec is, how a spec becomes
 * the stack's config, which program builds the stack and which CLI verbs apply to it. A kind
 * read from stack config or the catalog goes through {@link kindOf}: an unknown one is a clear
 * error naming where it was read, never a TypeError further down.
 *
 * Everything heavy is behind a function (the spec parser, the resolver): `list` and the Pulumi
 * program import this module and load only what they use. The programs live in stacks/<kind>.ts
 * (lib never imports the Pulumi components); `program` names that module.
 */
import { UserError } from "../core/errors";
import type { Home } from "../core/home";
import type { EnvSpec, EnvState, ResolvedEnv } from "../spec/model";

/** Every stack kind. Adding one means a registry entry below and a program in stacks/. */
export const KINDS = ["devenv", "copilot"] as const;
export type Kind = (typeof KINDS)[number];

/** The kind an envctl.yaml, compose file or preset makes unless it says (`kind:`). */
export const SPEC_KIND: Kind = "devenv";

/** The CLI verbs that act on an existing env. */
export const ENV_VERBS = [
  "up",
  "preview",
  "destroy",
  "outputs",
  "recover",
  "spawn",
  "warm",
  "cool",
  "start",
  "stop",
  "status",
  "logs",
  "open",
] as const;
/** The copilot kind's own verbs: its images, its schemas, its AWS part alone. */
export const COPILOT_VERBS = ["build", "schema", "infra"] as const;
export type EnvVerb = (typeof ENV_VERBS)[number] | (typeof COPILOT_VERBS)[number];

export interface KindDef {
  kind: Kind;
  /** One line for help and errors. */
  summary: string;
  /** The verbs that apply to envs of this kind. */
  verbs: readonly EnvVerb[];
  /** The zod schema of the kind's spec file (loaded on first call). */
  schema(): import("zod").ZodType;
  /** A validated spec bound to a name, port block, home and desired state: the stack's config. */
  resolve(name: string, spec: EnvSpec, block: number, home: Home, state?: EnvState): ResolvedEnv;
  /** A stored resolved env (stack config, catalog) of any known schema version, made current. */
  upgrade(raw: unknown, where: string): ResolvedEnv;
  /** Module under stacks/ whose `program(env)` builds the stack. */
  program: string;
}

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, see above */
const REGISTRY: Record<Kind, KindDef> = {
  devenv: {
    kind: "devenv",
    summary: "a git worktree, containers and host daemons on a private port block",
    verbs: ENV_VERBS,
    schema: () => (require("../spec/schema") as typeof import("../spec/schema")).specSchema,
    resolve: (...args) =>
      (require("./devenv/resolve") as typeof import("./devenv/resolve")).resolveEnv(...args),
    upgrade: (raw, where) =>
      (require("./devenv/upgrade") as typeof import("./devenv/upgrade")).upgradeEnv(raw, where),
    program: "devenv",
  },
  copilot: {
    kind: "copilot",
    summary:
      "the copilot dev stack: 15 services on a private port block and its AWS infra (DSQL, knowledge base)",
    verbs: [...ENV_VERBS, ...COPILOT_VERBS],
    schema: () => (require("../spec/schema") as typeof import("../spec/schema")).specSchema,
    resolve: (...args) =>
      (require("./copilot/resolve") as typeof import("./copilot/resolve")).resolveCopilot(...args),
    upgrade: (raw, where) =>
      (require("./devenv/upgrade") as typeof import("./devenv/upgrade")).upgradeEnv(raw, where),
    program: "copilot",
  },
};
/* eslint-enable @typescript-eslint/no-require-imports */

export function isKind(value: unknown): value is Kind {
  return typeof value === "string" && (KINDS as readonly string[]).includes(value);
}

/** The registry entry for `value`, read at `where` (e.g. `stack config envctl:kind`). */
export function kindOf(value: unknown, where: string): KindDef {
  if (isKind(value)) return REGISTRY[value];
  throw new UserError(
    `${where}: unknown kind ${JSON.stringify(value)}; this envctl knows ${KINDS.join(", ")}`,
    1,
    ["the env was made by another version of envctl: use that version, or upgrade this one"],
  );
}

/** Refuses a verb the env's kind does not support, naming both. */
export function checkVerb(def: KindDef, verb: EnvVerb, env: string): void {
  if (!def.verbs.includes(verb)) {
    throw new UserError(`env ${env} is a ${def.kind} env; ${verb} does not apply to it`, 2, [
      `${def.kind} envs support: ${def.verbs.join(", ")}`,
    ]);
  }
}
