/**
 * Environment names become git branch suffixes, directory names, Pulumi stack names and
 * container/volume prefixes, so they are held to the narrowest rule all of those accept.
 */

import { quote } from "./display";

export const ENV_NAME_MAX = 40;

/** Why `name` is not a valid environment name, or `undefined` when it is. */
export function validateEnvName(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > ENV_NAME_MAX) return `must be at most ${ENV_NAME_MAX} characters`;
  if (name.includes("/")) return 'must not contain "/"';
  if (name.includes("\\")) return 'must not contain "\\"';
  if (name.includes("..")) return 'must not contain ".."';
  if (/\s/.test(name)) return "must not contain spaces";
  if (/[A-Z]/.test(name)) return "must be lowercase";
  if (!/^[a-z]/.test(name)) return "must start with a lowercase letter";
  const bad = /[^a-z0-9-]/u.exec(name);
  if (bad) return `must not contain ${quote(bad[0])}; use lowercase letters, digits and "-"`;
  if (name.includes("--")) return 'must not contain "--"';
  if (name.endsWith("-")) return 'must not end with "-"';
  return undefined;
}

// Names and labels of the Docker objects and branch an env owns. Pure; the components only call these.

export const LABEL_ENV = "envctl.env";
export const LABEL_SERVICE = "envctl.service";

export const containerName = (env: string, service: string): string => `envctl-${env}-${service}`;
/**
 * Whether a container (its Docker names, `/name`) is one envctl made: by its name, since a
 * container run by hand from an env's image inherits the image's envctl labels.
 */
export const madeByEnvctl = (names: readonly string[] | undefined): boolean =>
  (names ?? []).some((n) => n.replace(/^\//, "").startsWith("envctl-"));
export const networkName = (env: string): string => `envctl-${env}`;
export const volumeName = (env: string, volume: string): string => `envctl-${env}-${volume}`;
export const imageTag = (env: string, service: string): string => `envctl/${env}-${service}:latest`;
export const branchName = (env: string): string => `${env}-workspace`;

export function envLabels(env: string, service?: string): Record<string, string> {
  return service ? { [LABEL_ENV]: env, [LABEL_SERVICE]: service } : { [LABEL_ENV]: env };
}

/**
 * Set to "1" in the engine's environment when the user asked to lose work (`destroy --force`, or
 * the undo of a failed spawn): the worktree handler then removes a worktree with unsaved work.
 */
export const FORCE_VAR = "ENVCTL_FORCE";
