#!/usr/bin/env node
/**
 * envctl's entry point: the command registry and the only place that exits the process.
 * UserErrors print their message (no stack) and exit 2 (bad input) or 1 (failed operation);
 * anything else is a bug and prints its stack.
 */
import { Command, CommanderError } from "commander";
import { UserError } from "../lib/errors";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require("../../package.json") as { version: string };

// Commands load on first use: importing the Pulumi SDK costs seconds, and `list` must not pay it.
function program(signal: AbortSignal): Command {
  const cmd = new Command("envctl")
    .description("isolated developer environments and deployments as Pulumi stacks")
    .version(version)
    .exitOverride()
    .showHelpAfterError();

  cmd
    .command("up <name>")
    .description("create or update an env from its spec")
    .option("-f, --file <spec>", "spec file (default ./envctl.yaml)")
    .option("-y, --yes", "apply without asking")
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: { file?: string; yes?: boolean; json?: boolean }) => {
      const { up } = await import("./commands/up");
      await up({ name, ...o, signal });
    });
  cmd
    .command("preview <name>")
    .description("show what up would change, resource by resource")
    .option("-f, --file <spec>", "spec file (default ./envctl.yaml)")
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: { file?: string; json?: boolean }) => {
      const { preview } = await import("./commands/preview");
      await preview({ name, ...o, signal });
    });
  cmd
    .command("destroy <name>")
    .description("remove the env and everything it owns")
    .option("--force", "destroy even with uncommitted changes in the worktree")
    .option("-y, --yes", "do not ask")
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: { force?: boolean; yes?: boolean; json?: boolean }) => {
      const { destroy } = await import("./commands/destroy");
      await destroy({ name, ...o, signal });
    });
  cmd
    .command("list")
    .alias("ls")
    .description("list envs")
    .option("--json", "print one JSON document on stdout")
    .action(async (o: { json?: boolean }) => {
      const { list } = await import("./commands/list");
      list(o);
    });
  cmd
    .command("outputs <name>")
    .description("ports, URLs, worktree and branch of an env")
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: { json?: boolean }) => {
      const { outputs } = await import("./commands/outputs");
      await outputs({ name, ...o });
    });
  cmd
    .command("env")
    .description("print the exports that let `pulumi` by hand see envctl's stacks")
    .option("--json", "print them as JSON")
    .action(async (o: { json?: boolean }) => {
      const { env } = await import("./commands/env");
      env(o);
    });
  cmd
    .command("recover <name>")
    .description("release a stuck lock and clear pending operations after an interruption")
    .action(async (name: string) => {
      const { recover } = await import("./commands/recover");
      await recover({ name });
    });
  return cmd;
}

async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  process.on("SIGINT", () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    process.stderr.write(
      "\ninterrupting: letting the engine stop cleanly (Ctrl-C again to force)\n",
    );
    controller.abort();
  });
  try {
    await program(controller.signal).parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed the problem (or help/version)
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UserError) {
      process.stderr.write(`envctl: ${err.message}\n`);
      for (const d of err.details) process.stderr.write(`  ${d}\n`);
      return controller.signal.aborted ? 130 : err.exitCode;
    }
    process.stderr.write(
      `envctl: internal error (a bug): ${(err as Error)?.stack ?? String(err)}\n`,
    );
    return 1;
  }
}

main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`envctl: ${String(err)}\n`);
    process.exit(1);
  },
);
