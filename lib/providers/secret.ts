/**
 * A generated secret (`--generate-secrets`): a strong random value made once, on create, and
 * kept in the stack's state as a Pulumi secret (the program registers `value` as a secret
 * output), so every later deploy, from any machine that has the stack's passphrase, sees the
 * same value. Changing nothing but its name keeps it.
 */
import { randomBytes } from "node:crypto";
import type { Handler } from "./types";

/** A strong random value for a generated secret: 48 bytes, base64url (64 characters). */
export function strongSecret(): string {
  return randomBytes(48).toString("base64url");
}

export const generatedSecret: Handler = {
  create(inputs) {
    return Promise.resolve({
      id: String(inputs.name),
      outs: { ...inputs, value: strongSecret() },
    });
  },
  diff: () => Promise.resolve({ changes: false }),
  delete: () => Promise.resolve(),
};
