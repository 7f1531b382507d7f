/**
 * Stored resolved envs (stack config `envctl:env`, the catalog's `envs.env_json`) outlive the
 * envctl that wrote them. Every reader passes what it parsed through `upgradeEnv`, which brings
 * any version this envctl knows to the current shape and refuses a newer one.
 *
 * Versions:
 * 1. no `schemaVersion`: the shape before envs were versioned.
 * 2. adds `schemaVersion`; nothing else changed, so resource inputs built from a v1 env and from
 *    its upgrade are identical (a stack made by older code still previews unchanged).
 */
import { UserError } from "../../core/errors";
import { RESOLVED_ENV_VERSION, type ResolvedEnv } from "../../spec/model";

type Doc = Record<string, unknown>;

/** `STEPS[v - 1]` turns a version-v document into version v + 1. */
export const STEPS: readonly ((doc: Doc) => Doc)[] = [(doc) => ({ ...doc, schemaVersion: 2 })];

/**
 * The current shape of a stored resolved env of any known version. `where` names the document in
 * errors (`env demo in catalog.db`).
 */
export function upgradeEnv(raw: unknown, where = "the stored resolved env"): ResolvedEnv {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error(`${where} is not a JSON object`);
  }
  let doc = raw as Doc;
  const version = doc.schemaVersion === undefined ? 1 : doc.schemaVersion; // absent: version 1
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    throw new Error(
      `${where}: schemaVersion must be a positive integer, got ${JSON.stringify(version)}`,
    );
  }
  if (version > RESOLVED_ENV_VERSION) {
    throw new UserError(
      `${where} has schema version ${version}, newer than this envctl's ${RESOLVED_ENV_VERSION}: ` +
        `it was written by a newer envctl; use that one (or upgrade this one)`,
    );
  }
  for (let v = version; v < RESOLVED_ENV_VERSION; v++) doc = STEPS[v - 1]!(doc);
  return doc as unknown as ResolvedEnv;
}
