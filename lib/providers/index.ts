/**
 * Resource handlers behind envctl's dynamic-provider resources, by kind. The serialized
 * provider in each resource's state only holds a tiny trampoline that requires this module by
 * path (dist/lib/providers/index.js) at run time, so changing the handlers never shows up as a
 * spurious diff. Keep this path and the `handlers` export: stacks in the field depend on them.
 */
import { deployStep, healthGate } from "./deploy";
import { container, image, network, ready, volume } from "./docker";
import { fileHandler, initHandler, processHandler } from "./process";
import type { Handler } from "./types";
import { hostReady } from "./host-ready";
import { proxyRoute } from "./proxy";
import { generatedSecret } from "./secret";
import { localRoutes } from "./routes";
import { supervisor } from "./supervisor";
import { worktree } from "./worktree";

export type { CreateResult, DiffResult, Handler } from "./types";

export const handlers: Record<string, Handler> = {
  worktree,
  network,
  volume,
  image,
  container,
  ready,
  process: processHandler,
  file: fileHandler,
  init: initHandler,
  deploystep: deployStep,
  healthgate: healthGate,
  secret: generatedSecret,
  hostready: hostReady,
  proxyroute: proxyRoute,
  supervisor,
  localroutes: localRoutes,
};
