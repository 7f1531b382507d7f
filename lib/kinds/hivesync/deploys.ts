/**
 * The deploy a hivesync stack records (its `deploy` output, a secret): the resolved env and
 * secret values of the current deploy and of the one before it, which `envctl rollback`
 * returns to. Kept in the stack's state, so it works from any machine that has the backend
 * and the passphrase, a fresh CI runner included.
 */
import { canonicalJson } from "../../core/canonical";
import type { Engine } from "../../engine/automation";
import {
  configFileOf,
  readConfig,
  secretOutputs,
  secretsDigest,
  setSecretConfig,
  unsetConfig,
  writePlainConfig,
} from "../../engine/secrets";
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
/**
 * Plain config: the keyed digest (secretsDigest) of the deploy the stack last recorded, set only
 * while `envctl:previous` is that deploy's own previous. An up of the same deploy again then
 * needs no pulumi process to keep the rollback target.
 */
export const DEPLOYED_KEY = "envctl:deployedDigest";

/** A deploy's keyed digest (state aside: cool and warm are not deploys). */
function deployDigest(engine: Engine, d: Deploy): string | undefined {
  return secretsDigest(engine, { ...d, env: { ...d.env, state: "warm" } });
}

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
  const file = configFileOf(engine, stack);
  const digest = deployDigest(engine, next);
  if (digest && readConfig(file)[DEPLOYED_KEY] === digest) return;
  // From here until `next` is recorded, the config's previous is not the recorded one's.
  deployed(engine, stack, undefined);
  const rec = await deployRecord(engine, stack);
  if (!rec.current) return;
  const previous = sameDeploy(rec.current, next) ? rec.previous : rec.current;
  if (previous) {
    await setSecretConfig(engine, stack, PREVIOUS_KEY, JSON.stringify(previous));
  } else {
    await unsetConfig(engine, stack, PREVIOUS_KEY);
  }
}

/**
 * After a deploy went through (up, rollback): the stack records `d` and `envctl:previous` is its
 * previous. Undefined, before `envctl:previous` is changed otherwise: nothing is known.
 */
export function deployed(engine: Engine, stack: string, d: Deploy | undefined): void {
  const digest = d ? deployDigest(engine, d) : undefined;
  writePlainConfig(configFileOf(engine, stack), DEPLOYED_KEY, digest);
}
