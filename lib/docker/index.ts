/**
 * The Docker calls behind envctl's dynamic-provider resources. Every function is idempotent
 * (ensureX reuses, removeX of something already gone succeeds) and every object created
 * carries the labels passed in, so leak checks can find it with {@link listByLabel}.
 * This module is the public face; the code lives beside it in lib/docker/.
 */
export {
  DockerError,
  docker,
  dockerFailure,
  dockerReason,
  isConnectionFailure,
  statusOf,
} from "./client";
export type { Labels } from "./client";
export {
  containerLogs,
  demuxLogs,
  ensureNetwork,
  ensureVolume,
  imageId,
  listByLabel,
  removeLabelled,
  pullImage,
  removeImage,
  removeNetwork,
  removeVolume,
} from "./objects";
export { buildImage } from "./build";
export type { BuildOptions } from "./build";
export {
  ContainerRunError,
  dockerHealthcheck,
  inspectContainer,
  removeContainer,
  runContainer,
  waitHealthy,
} from "./container";
export type { ContainerInfo, ContainerSpec, RunOptions } from "./container";
