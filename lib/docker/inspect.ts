/** What envctl reads back about a container: running, health, image, restarts, labels. */
import type Dockerode from "dockerode";
import { docker, dockerFailure, statusOf, type Labels } from "./client";

export interface ContainerInfo {
  id: string;
  running: boolean;
  /** `starting` / `healthy` / `unhealthy` when the container has a Docker health check. */
  health?: string;
  /** The image as requested at create time (reference or ID). */
  image: string;
  /** The ID of the image the container runs. */
  imageId: string;
  /** Docker's state: created, running, restarting, exited, … */
  status: string;
  exitCode: number;
  restartCount: number;
  labels: Labels;
  /** The main process's pid on the engine's host (0 when not running). */
  pid: number;
  /** When it last started (ms since the epoch); undefined before its first start. */
  startedAtMs?: number;
}

export async function inspectContainer(
  name: string,
  host?: string,
): Promise<ContainerInfo | undefined> {
  let info: Dockerode.ContainerInspectInfo;
  try {
    info = await docker(host).getContainer(name).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw dockerFailure(`inspecting container ${name}`, err);
  }
  return {
    id: info.Id,
    running: info.State.Running,
    ...(info.State.Health ? { health: info.State.Health.Status } : {}),
    image: info.Config.Image,
    imageId: info.Image,
    status: info.State.Status,
    exitCode: info.State.ExitCode,
    restartCount: info.RestartCount,
    labels: info.Config.Labels ?? {},
    pid: info.State.Pid,
    ...(Date.parse(info.State.StartedAt) > 0
      ? { startedAtMs: Date.parse(info.State.StartedAt) }
      : {}),
  };
}
