/**
 * The deploy a hivesync stack records (its `deploy` output, a secret): the resolved env and
 * secret values of the current deploy and of the one before it, which `envctl rollback`
 * returns to. Kept in the stack's state, so it works from any machine that has the backend
 * and the passphrase, a fresh CI runner included.
 */
import { createHash } from "node:crypto";
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
import { checkpointOutputs } from "../../engine/state";
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
 * Plain config: `<digest>:<mark>`, the keyed digest (secretsDigest) of the deploy this home last
 * recorded and a mark of the stack's deploy record right after it, set only while
 * `envctl:previous` is that deploy's own previous. An up of the same deploy again, with nothing
 * recorded since (by this home or another one sharing the backend), then needs no pulumi
 * process to keep the rollback target. Only a file backend's record is read without one.
 */
export const DEPLOYED_KEY = "envctl:deployedDigest";

/**
 * What makes two deploys the same: not the state (cool and warm are not deploys), and not a
 * linode env's endpoint, which the CLI records once the VM exists (it is not deployed).
 */
function comparable(d: Deploy): Deploy {
  const env: ResolvedEnv = { ...d.env, state: "warm" };
  if (env.hivesync?.target === "linode") delete env.dockerHost;
  return { ...d, env };
}

/** A deploy's keyed digest. */
function deployDigest(engine: Engine, d: Deploy): string | undefined {
  return secretsDigest(engine, comparable(d));
}

/** A mark of the stack's deploy record (its encrypted output), when a file backend has it. */
function recordMark(engine: Engine, stack: string): string | undefined {
  const deploy = checkpointOutputs(engine, stack)?.deploy;
  if (deploy === undefined) return undefined;
  return createHash("sha256").update(canonicalJson(deploy)).digest("hex").slice(0, 16);
}

export async function deployRecord(engine: Engine, stack: string): Promise<DeployRecord> {
  const outs = await secretOutputs(engine, stack);
  return outs.deploy ?? {};
}

/** The same deploy (state aside: cool and warm are not deploys). */
export function sameDeploy(a: Deploy | undefined, b: Deploy): boolean {
  if (!a) return false;
  return canonicalJson(comparable(a)) === canonicalJson(comparable(b));
}

/**
 * Before a deploy of `next`: what it will record as its previous deploy goes into the stack's
 * `envctl:previous` config. That is the current deploy, or, when `next` is the current one
 * again (an up after a failed one, or with nothing changed), the current one's own previous,
 * so a failed deploy never becomes what a rollback returns to.
 */
export async function rememberPrevious(engine: Engine, stack: string, next: Deploy): Promise<void> {
  const digest = deployDigest(engine, next);
  const mark = recordMark(engine, stack);
  const known = readConfig(configFileOf(engine, stack))[DEPLOYED_KEY];
  if (digest && mark && known === `${digest}:${mark}`) return;
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
  const mark = d ? recordMark(engine, stack) : undefined;
  const value = digest && mark ? `${digest}:${mark}` : undefined;
  writePlainConfig(configFileOf(engine, stack), DEPLOYED_KEY, value);
}
