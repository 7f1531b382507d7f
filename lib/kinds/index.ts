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
export const KINDS = ["devenv", "copilot", "hivesync"] as const;
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
  "backup",
  "restore",
  "export",
  "restart",
  "events",
] as const;
/** The copilot kind's own verbs: its images, its schemas, its AWS part alone. */
export const COPILOT_VERBS = ["build", "schema", "infra"] as const;
/** The hivesync kind's own verbs. */
export const HIVESYNC_VERBS = ["rollback"] as const;
export type EnvVerb =
  (typeof ENV_VERBS)[number] | (typeof COPILOT_VERBS)[number] | (typeof HIVESYNC_VERBS)[number];

/** What one resolve is told besides the spec (flags of the verb). */
export interface ResolveOptions {
  /** hivesync: variables filled by generated secrets (`--generate-secrets`, or kept from before). */
  generate?: readonly string[];
  /** hivesync: a catalog host by id (an SSH target named by it). */
  hostById?: import("./hivesync/target").HostLookup;
}

/**
 * The options of an up or preview: `--generate-secrets` asks for the spec's generated secrets;
 * once an env has them it keeps them (the resolved env it was last given lists them).
 */
export function resolveOptions(
  spec: EnvSpec,
  prior: { hivesync?: { generated: Record<string, string> } | undefined } | null | undefined,
  generateSecrets: boolean | undefined,
): ResolveOptions {
  const kept = Object.keys(prior?.hivesync?.generated ?? {});
  const asked = generateSecrets ? (spec.hivesync?.generate ?? []) : [];
  const generate = [...new Set([...kept, ...asked])];
  return generate.length > 0 ? { generate } : {};
}

export interface KindDef {
  kind: Kind;
  /** One line for help and errors. */
  summary: string;
  /** The verbs that apply to envs of this kind. */
  verbs: readonly EnvVerb[];
  /** The zod schema of the kind's spec file (loaded on first call). */
  schema(): import("zod").ZodType;
  /** A validated spec bound to a name, port block, home and desired state: the stack's config. */
  resolve(
    name: string,
    spec: EnvSpec,
    block: number,
    home: Home,
    state?: EnvState,
    opts?: ResolveOptions,
  ): ResolvedEnv;
  /**
   * `resolve`, with the values of the env's secret config `envctl:secrets` (kinds that keep
   * secrets out of the resolved env) from the same resolve; none: the kind has no secrets.
   */
  resolveWithSecrets?(
    name: string,
    spec: EnvSpec,
    block: number,
    home: Home,
    state?: EnvState,
    opts?: ResolveOptions,
  ): { env: ResolvedEnv; secrets: Record<string, string> };
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
    resolve: (name, spec, block, home, state) =>
      (require("./devenv/resolve") as typeof import("./devenv/resolve")).resolveEnv(
        name,
        spec,
        block,
        home,
        state,
      ),
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
    resolve: (name, spec, block, home, state) =>
      (require("./copilot/resolve") as typeof import("./copilot/resolve")).resolveCopilot(
        name,
        spec,
        block,
        home,
        state,
      ),
    upgrade: (raw, where) =>
      (require("./devenv/upgrade") as typeof import("./devenv/upgrade")).upgradeEnv(raw, where),
    program: "copilot",
  },
  hivesync: {
    kind: "hivesync",
    summary:
      "one compose app (backend, worker, postgres, redis) with its secrets, deploy steps and health check",
    verbs: [...ENV_VERBS, ...HIVESYNC_VERBS],
    schema: () => (require("../spec/schema") as typeof import("../spec/schema")).specSchema,
    resolve: (...args) =>
      (require("./hivesync/resolve") as typeof import("./hivesync/resolve")).resolveHivesync(
        ...args,
      ),
    resolveWithSecrets: (...args) =>
      (require("./hivesync/resolve") as typeof import("./hivesync/resolve")).resolveWithSecrets(
        ...args,
      ),
    upgrade: (raw, where) =>
      (require("./devenv/upgrade") as typeof import("./devenv/upgrade")).upgradeEnv(raw, where),
    program: "hivesync",
  },
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The env a kind resolves a spec to, and its secret config's values when the kind has any. */
export function resolveFor(
  def: KindDef,
  name: string,
  spec: EnvSpec,
  block: number,
  home: Home,
  state?: EnvState,
  opts?: ResolveOptions,
): { env: ResolvedEnv; secrets?: Record<string, string> } {
  return def.resolveWithSecrets
    ? def.resolveWithSecrets(name, spec, block, home, state, opts)
    : { env: def.resolve(name, spec, block, home, state, opts) };
}

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
