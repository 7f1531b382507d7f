import { createHash } from "node:crypto";
import { canonicalJson } from "../core/canonical";
import type { EnvSpec } from "./model";

/** sha256 of the spec as JSON with sorted keys, so key order never changes the hash. */
export function specHash(spec: EnvSpec): string {
  return createHash("sha256").update(canonicalJson(spec)).digest("hex");
}
