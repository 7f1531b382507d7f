/**
 * The one place engine failures become sentences: Automation API errors (CommandError and its
 * subclasses) and the pulumi processes envctl runs itself (PulumiFailure) turn into UserErrors
 * that carry pulumi's own reason, so a failed verb never says only "up of NAME failed".
 */
import { UserError } from "../core/errors";

/** A pulumi process envctl ran itself (lib/engine/update.ts) exited non-zero. */
export class PulumiFailure extends Error {
  override readonly name = "PulumiFailure";
  constructor(
    /** `up`, `stack init`, ... */
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
    readonly stdout = "",
  ) {
    super(`pulumi ${command} exited with ${code}${stderr.trim() ? `: ${stderr.trim()}` : ""}`);
  }
}

/** What pulumi printed, when the error came from a pulumi process; undefined otherwise. */
function pulumiOutput(err: unknown): { stderr: string; stdout: string } | undefined {
  if (err instanceof PulumiFailure) return { stderr: err.stderr, stdout: err.stdout };
  // The Automation API's CommandError (by shape: its classes are not loaded on the update path).
  const result = (err as { commandResult?: { stderr?: unknown; stdout?: unknown } } | null)
    ?.commandResult;
  if (result && typeof result === "object") {
    const text = (v: unknown): string => (typeof v === "string" ? v : "");
    return { stderr: text(result.stderr), stdout: text(result.stdout) };
  }
  return undefined;
}

const ANSI = /\u001b\[[0-9;]*m/g;
const MAX_REASONS = 5;

function errorLines(text: string): string[] {
  const lines = text
    .replace(ANSI, "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^error: /.test(l));
  return [...new Set(lines)];
}

/**
 * The engine's own words for a failure, first lines first: pulumi's `error: …` lines from
 * stderr, else from stdout (its Diagnostics section), else the first thing stderr said; for an
 * error that is not pulumi's, its message's first line.
 */
export function engineReasons(err: unknown): string[] {
  const out = pulumiOutput(err);
  if (!out) {
    const text = err instanceof Error ? err.message : String(err);
    const first = text.trim().split("\n")[0]?.trim();
    return first ? [first] : [];
  }
  let lines = errorLines(out.stderr);
  if (lines.length === 0) lines = errorLines(out.stdout);
  if (lines.length === 0) {
    lines = out.stderr
      .replace(ANSI, "")
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(0, 1);
  }
  return lines.slice(0, MAX_REASONS);
}

/** Where known conditions are recognised: pulumi's stderr when there is one, else the message. */
function conditionText(err: unknown): string {
  const out = pulumiOutput(err);
  if (out?.stderr.trim()) return out.stderr;
  return err instanceof Error ? err.message : String(err);
}

/** Busy, missing, duplicate, wrong passphrase: the conditions a user acts on by name. */
function knownCondition(err: unknown, envName: string): UserError | undefined {
  // By name: the Automation API's error classes are not loaded on the update path.
  const kind = err instanceof Error ? err.name : "";
  const text = conditionText(err);
  if (kind === "StackNotFoundError") return new UserError(`env ${envName} does not exist`, 2);
  if (kind === "StackAlreadyExistsError" || /stack '[^']*' already exists/i.test(text)) {
    return new UserError(`env ${envName} already exists`, 1);
  }
  if (
    kind === "ConcurrentUpdateError" ||
    /stack is currently locked|concurrent update|currently being updated/i.test(text)
  ) {
    return new UserError(
      `env ${envName} is busy: another envctl or pulumi operation is running on it`,
      1,
      [`if none is running, recover with: envctl recover ${envName}`],
    );
  }
  if (/no stack named|stack .* not found/i.test(text))
    return new UserError(`env ${envName} does not exist`, 2);
  if (/incorrect passphrase/i.test(text)) {
    // The home's settings file was made with another passphrase than the one in use now.
    return new UserError(
      `env ${envName}: the passphrase does not match the one its stack was created with`,
      1,
      [
        "set PULUMI_CONFIG_PASSPHRASE(_FILE) to the passphrase this ENVCTL_HOME's stacks were made with",
      ],
    );
  }
  return undefined;
}

/** How to get out of a failure whose cause pulumi names, before the verb's own recovery hint. */
function causeHints(reasons: string[], envName: string): string[] {
  if (reasons.some((r) => /failed to load checkpoint|getting snapshot/i.test(r))) {
    return [
      "the env's Pulumi state is unreadable: restore it from the backup beside it " +
        `($ENVCTL_HOME/state/.pulumi/stacks/envctl/${envName}.json.bak) or with ` +
        '`pulumi stack import` (after `eval "$(envctl env)"`)',
    ];
  }
  return [];
}

/**
 * Maps an engine failure outside a verb (selecting, creating, initialising a stack): known
 * conditions to their sentences, any other pulumi failure to a UserError with pulumi's reason.
 * Anything else is not the engine's (a bug, say) and passes through.
 */
export function mapEngineError(err: unknown, envName: string): unknown {
  if (err instanceof UserError) return err;
  const known = knownCondition(err, envName);
  if (known) return known;
  if (!pulumiOutput(err)) return err;
  const reasons = engineReasons(err);
  const [first, ...rest] = reasons;
  return new UserError(
    `pulumi failed on env ${envName}${first ? `: ${first.replace(/^error: /, "")}` : ""}`,
    1,
    [...rest, ...causeHints(reasons, envName)],
  );
}

export interface FailureContext {
  /** What the user asked for: `up`, `warm`, `destroy`, ... */
  verb: string;
  env: string;
  /** Diagnostics of failed resources, from the engine's events (lib/engine/progress.ts). */
  diagnostics?: readonly string[];
  /** How to recover; omitted or empty means no hint. */
  recovery?: string;
  /** The user interrupted the operation (Ctrl-C). */
  interrupted?: boolean;
}

/**
 * Any failure of a verb's engine operation as a UserError: busy, missing and the other known
 * conditions by name; otherwise `VERB of NAME failed` (or `was interrupted`) with the failed
 * resources' diagnostics, pulumi's own error lines they do not already say, and how to recover.
 */
export function engineFailure(err: unknown, ctx: FailureContext): UserError {
  if (err instanceof UserError) return err;
  const known = knownCondition(err, ctx.env);
  if (known) return known;
  const diagnostics = ctx.diagnostics ?? [];
  const said = (reason: string): boolean => {
    const text = reason.replace(/^error: /, "");
    return diagnostics.some((d) => d.includes(text));
  };
  const reasons = engineReasons(err).filter((r) => !said(r));
  return new UserError(
    ctx.interrupted
      ? `${ctx.verb} of ${ctx.env} was interrupted`
      : `${ctx.verb} of ${ctx.env} failed`,
    1,
    [
      ...diagnostics,
      ...reasons,
      ...causeHints(reasons, ctx.env),
      ...(ctx.recovery ? [ctx.recovery] : []),
    ],
  );
}
