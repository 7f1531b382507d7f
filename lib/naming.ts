/** Names and labels of the Docker objects an env owns. Pure; the components only call these. */

export const LABEL_ENV = "envctl.env";
export const LABEL_SERVICE = "envctl.service";

export const containerName = (env: string, service: string): string => `envctl-${env}-${service}`;
export const networkName = (env: string): string => `envctl-${env}`;
export const volumeName = (env: string, volume: string): string => `envctl-${env}-${volume}`;
export const imageTag = (env: string, service: string): string => `envctl/${env}-${service}:latest`;
export const branchName = (env: string): string => `${env}-workspace`;

export function envLabels(env: string, service?: string): Record<string, string> {
  return service ? { [LABEL_ENV]: env, [LABEL_SERVICE]: service } : { [LABEL_ENV]: env };
}
