import * as pulumi from "@pulumi/pulumi";
import { EnvctlResource } from "./dynamic";

export interface WorktreeArgs {
  /** Absolute path of the repository the worktree is added to. */
  repo: string;
  /** Absolute path of the worktree directory. */
  dir: string;
  /** Branch created for the env (`<env>-workspace`). */
  branch: string;
  /** Branch or commit the new branch starts from. @default "HEAD" */
  base?: string;
}

/** A git worktree on its own branch: `git worktree add <dir> -b <branch> <base>`. */
export class Worktree extends pulumi.ComponentResource {
  readonly path: pulumi.Output<string>;
  readonly branch: pulumi.Output<string>;
  readonly baseCommit: pulumi.Output<string>;
  /** The resource dependents wait on (the worktree itself, not this component). */
  readonly resource: pulumi.Resource;

  constructor(name: string, args: WorktreeArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("envctl:devenv:Worktree", name, {}, opts);
    const wt = new EnvctlResource(
      "Worktree",
      "worktree",
      name,
      {
        repo: args.repo,
        dir: args.dir,
        branch: args.branch,
        base: args.base ?? "HEAD",
        baseCommit: undefined,
      },
      { parent: this },
    );
    this.resource = wt;
    this.path = wt.output<string>("dir");
    this.branch = wt.output<string>("branch");
    this.baseCommit = wt.output<string>("baseCommit");
    this.registerOutputs({ path: this.path, branch: this.branch, baseCommit: this.baseCommit });
  }
}
