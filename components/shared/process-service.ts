import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedProcess } from "../../lib/spec/model";
import { EnvctlResource } from "./dynamic";

export interface ProcessServiceArgs {
  /** The service with host ports already resolved into the env's block. */
  service: ResolvedProcess;
  /** `$ENVCTL_HOME/envs/NAME`: pid and log files. */
  stateDir: string;
  /** The env's worktree; `service.dir` is relative to it. */
  worktree: pulumi.Input<string>;
  /** env.sh, sourced before the command. */
  envFile: string;
  /** Hash of env.sh's content: a change restarts the daemon. */
  envShHash: string;
  /** Upstream resources (healthy services, the worktree, env.sh) that must exist first. */
  dependsOn: pulumi.Resource[];
}

/**
 * A host daemon of an env: started in its own process group with env.sh sourced, created only
 * once its health check passes (so dependents wait), stopped with its whole group on delete.
 */
export class ProcessService extends pulumi.ComponentResource {
  /** The daemon resource: dependents wait on it. */
  readonly process: EnvctlResource;
  readonly pid: pulumi.Output<number>;

  constructor(name: string, args: ProcessServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("envctl:devenv:ProcessService", name, {}, opts);
    const svc = args.service;
    this.process = new EnvctlResource(
      "Process",
      "process",
      name,
      {
        name: svc.name,
        stateDir: args.stateDir,
        cwd: pulumi.output(args.worktree).apply((w) => path.join(w, svc.dir)),
        cmd: svc.cmd,
        vars: svc.env,
        envFile: args.envFile,
        envShHash: args.envShHash,
        ports: svc.ports,
        health: svc.health,
        pid: undefined,
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    this.pid = this.process.output<number>("pid");
    this.registerOutputs({ pid: this.pid });
  }
}
