/**
 * The deploy a hivesync stack records (its `deploy` output, a secret): the resolved env and
 * secret values of the current deploy and of the one before it, which `envctl rollback`
 * returns to. Kept in the stack's state, so it works from any machine that has the backend
 * and the passphrase, a fresh CI runner included.
 */
import { canonicalJson } from "../../core/canonical";
import type { Engine } from "../../engine/automation";
import { secretOutputs, setSecretConfig, unsetConfig } from "../../engine/secrets";
import type { ResolvedEnv } from "../../spec/model";

export interface Deploy {
  env: ResolvedEnv;
  secrets: Record<string, string>;
}

export interface DeployRecord {
  current?: Deploy;
  previous?: Deploy;
}

export const PREVIOUS_KEY = "envctl:previous";

export async function deployRecord(engine: Engine, stack: string): Promise<DeployRecord> {
  const outs = await secretOutputs(engine, stack);
  return outs.deploy ?? {};
}

/** The same deploy (state aside: cool and warm are not deploys). */
export function sameDeploy(a: Deploy | undefined, b: Deploy): boolean {
  if (!a) return false;
  const norm = (d: Deploy): string => canonicalJson({ ...d, env: { ...d.env, state: "warm" } });
  return norm(a) === norm(b);
}

/**
 * Before a deploy of `next`: what it will record as its previous deploy goes into the stack's
 * `envctl:previous` config. That is the current deploy, or, when `next` is the current one
 * again (an up after a failed one, or with nothing changed), the current one's own previous,
 * so a failed deploy never becomes what a rollback returns to.
 */
export async function rememberPrevious(engine: Engine, stack: string, next: Deploy): Promise<void> {
  const rec = await deployRecord(engine, stack);
  if (!rec.current) return;
  const previous = sameDeploy(rec.current, next) ? rec.previous : rec.current;
  if (previous) {
    await setSecretConfig(engine, stack, PREVIOUS_KEY, JSON.stringify(previous));
  } else {
    await unsetConfig(engine, stack, PREVIOUS_KEY);
  }
}
