#!/usr/bin/env node
/**
 * envctl's entry point: the command registry and the only place that exits the process.
 * UserErrors print their message (no stack) and exit 2 (bad input) or 1 (failed operation);
 * anything else is a bug and prints its stack.
 */
import { Command, CommanderError } from "commander";
import { printable } from "../lib/core/display";
import { UserError } from "../lib/core/errors";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require("../../package.json") as { version: string };

interface SpecFlags {
  file?: string[];
  preset?: string;
  format?: string;
  profile?: string[];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A command that finished and wants this exit status without printing an error. */
class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

// Commands load on first use: importing the Pulumi SDK costs seconds, and `list` must not pay it.
function program(signal: AbortSignal): Command {
  const cmd = new Command("envctl")
    .description("isolated developer environments and deployments as Pulumi stacks")
    .version(version)
    .exitOverride()
    // Parse errors read like envctl's own (`envctl: unknown option '--x'`), one line that never
    // echoes a huge or binary argument, then where to look instead of the whole help.
    .configureOutput({
      outputError: (text, write) => {
        const [first = "", ...rest] = text.trimEnd().split("\n");
        const more = rest.filter((l) => l.trim()).map((l) => `  ${printable(l.trim())}`);
        write([printable(first.replace(/^error: /, "envctl: ")), ...more, ""].join("\n"));
      },
    })
    .showHelpAfterError("  (add --help for usage)");

  const specOptions = (c: Command): Command =>
    c
      .option(
        "-f, --file <spec>",
        "spec file: envctl.yaml, an A3sfile.hcl, or compose files (repeat -f for overrides)",
        collect,
      )
      .option("--preset <name>", "use a preset shipped with envctl (dust, demo, ...)")
      .option(
        "--format <format>",
        "read the -f files as compose, envctl or a3s (default: told by their name and content)",
      )
      .option(
        "--profile <name>",
        "enable a compose profile (repeat for several; COMPOSE_PROFILES works too)",
        collect,
      );

  const WAIT = "if another operation runs on the env, wait for it instead of failing busy";
  const WAIT_TIMEOUT =
    "wait for another operation at most this long (e.g. 90s, 5m), then fail busy";
  specOptions(cmd.command("up <name>"))
    .description("create or update an env from its spec and warm it")
    .option("-y, --yes", "apply without asking")
    .option("--wait", WAIT)
    .option("--wait-timeout <duration>", WAIT_TIMEOUT)
    .option(
      "--generate-secrets",
      "hivesync: strong random values for hivesync.generate (JWT_SECRET, PREVIEW_TOKEN_SECRET), made once and kept",
    )
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: SpecFlags & { yes?: boolean; json?: boolean }) => {
      const { up } = await import("./commands/up");
      await up({ name, ...o, signal });
    });
  specOptions(cmd.command("preview <name>"))
    .description("show what up would change, resource by resource")
    .option(
      "--generate-secrets",
      "hivesync: strong random values for hivesync.generate (JWT_SECRET, PREVIEW_TOKEN_SECRET), made once and kept",
    )
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: SpecFlags & { json?: boolean }) => {
      const { preview } = await import("./commands/preview");
      await preview({ name, ...o, signal });
    });
  specOptions(cmd.command("spawn <name>"))
    .description("create an env: worktree on its own branch, port block, cold services")
    .option("--base <branch>", "branch or commit the env's branch starts from")
    .option("--no-open", "do not open the env afterwards")
    .option("--wait", WAIT)
    .option("--wait-timeout <duration>", WAIT_TIMEOUT)
    .option("--json", "print one JSON document on stdout")
    .action(
      async (name: string, o: SpecFlags & { base?: string; open: boolean; json?: boolean }) => {
        const { spawn } = await import("./commands/lifecycle");
        await spawn({ name, ...o, signal });
      },
    );
  cmd
    .command("build")
    .description("build the copilot kind's images (temporal-dsql base, runtime, copilot)")
    .option(
      "-f, --file <spec>",
      "the copilot spec (default: dev/envctl.yaml in this checkout)",
      collect,
    )
    .option("--json", "print one JSON document on stdout")
    .action(async (o: { file?: string[]; json?: boolean }) => {
      const { build } = await import("./commands/build");
      await build({ ...o, signal });
    });
  cmd
    .command("schema <name>")
    .description("copilot envs: apply the Temporal schemas (DSQL, Elasticsearch) of both clusters")
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: { json?: boolean }) => {
      const { schema } = await import("./commands/schema");
      const code = await schema({ name, ...o, signal });
      if (code !== 0) throw new ExitCode(code);
    });
  cmd
    .command("infra <name> <action>")
    .description("copilot envs: apply or destroy the AWS part alone (DSQL, knowledge base)")
    .option("--wait", WAIT)
    .option("--wait-timeout <duration>", WAIT_TIMEOUT)
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, action: string, o: { json?: boolean; wait?: boolean }) => {
      const { infra } = await import("./commands/infra");
      await infra({ name, action, ...o, signal });
    });
  const verbs: [string, string][] = [
    ["warm", "start containers and services (first warm runs the init steps)"],
    ["cool", "stop services and containers; keep volumes and cold services"],
    ["start", "resume a stopped env (cold services)"],
    ["stop", "stop everything the env runs"],
  ];
  for (const [verb, description] of verbs) {
    const some = verb === "warm" || verb === "cool";
    const c = cmd
      .command(some ? `${verb} <name> [services...]` : `${verb} <name>`)
      .description(
        some
          ? `${description}; with services, just those (${verb === "warm" ? "and what they need" : "and what needs them"})`
          : description,
      )
      .option("--json", "print one JSON document on stdout")
      .option("--wait", WAIT)
      .option("--wait-timeout <duration>", WAIT_TIMEOUT);
    if (verb === "stop") c.option("--volumes", "remove the env's volumes too (compose's down -v)");
    c.action(async (name: string, ...rest: unknown[]) => {
      const services = some && Array.isArray(rest[0]) ? (rest[0] as string[]) : [];
      const o = (some ? rest[1] : rest[0]) as { json?: boolean; wait?: boolean; volumes?: boolean };
      const lifecycle = await import("./commands/lifecycle");
      await lifecycle.transition({
        name,
        verb: verb as "warm",
        ...o,
        ...(services.length > 0 ? { services } : {}),
        signal,
      });
    });
  }
  cmd
    .command("restart <name> <service>")
    .description(
      "stop one service (SIGTERM, 5s, then SIGKILL) and start it again, held to its health check",
    )
    .option("--json", "print one JSON document on stdout")
    .option("--wait", WAIT)
    .option("--wait-timeout <duration>", WAIT_TIMEOUT)
    .action(async (name: string, service: string, o: { json?: boolean; wait?: boolean }) => {
      const { restart } = await import("./commands/restart");
      await restart({ name, service, ...o, signal });
    });
  cmd
    .command("events <name>")
    .description(
      "the supervisor's state and health changes as NDJSON, one event per line, as they happen",
    )
    .option(
      "--since <when>",
      'print the events since then first (a duration like "10m", or a time)',
    )
    .option("--no-follow", "print the recorded events and exit")
    .action(async (name: string, o: { since?: string; follow: boolean }) => {
      const { events } = await import("./commands/events");
      await events({
        name,
        ...(o.since !== undefined ? { since: o.since } : {}),
        follow: o.follow,
        signal,
      });
    });
  cmd
    .command("status <name>")
    .description("every service of the env: running, healthy, pid/container, ports")
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: { json?: boolean }) => {
      const { status } = await import("./commands/status");
      const code = await status({ name, ...o });
      if (code !== 0) throw new ExitCode(code);
    });
  cmd
    .command("rollback <name>")
    .description("hivesync: return to the deploy before the last one (its config and secrets)")
    .option("--wait", WAIT)
    .option("--wait-timeout <duration>", WAIT_TIMEOUT)
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: { json?: boolean; wait?: boolean; waitTimeout?: string }) => {
      const { rollback } = await import("./commands/rollback");
      await rollback({ name, ...o, signal });
    });
  cmd
    .command("backup <name>")
    .description(
      "dump the env's Postgres (pg_dump -Fc) with its config and metadata into $ENVCTL_HOME/backups/NAME/",
    )
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: { json?: boolean }) => {
      const { backup } = await import("./commands/backup");
      await backup({ name, ...o });
    });
  cmd
    .command("restore <name> <file>")
    .description(
      "check a backup whole, stop what uses the database, restore it, start them, run the health check",
    )
    .option("--wait", WAIT)
    .option("--wait-timeout <duration>", WAIT_TIMEOUT)
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, file: string, o: { json?: boolean; wait?: boolean }) => {
      const { restore } = await import("./commands/backup");
      const code = await restore({ name, file, ...o, signal });
      if (code !== 0) throw new ExitCode(code);
    });
  cmd
    .command("export <name>")
    .description("a full snapshot: database, config, the app's /data and the code (git bundle)")
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: { json?: boolean }) => {
      const { exportEnv } = await import("./commands/backup");
      await exportEnv({ name, ...o });
    });
  cmd
    .command("logs <name> [service]")
    .description(
      "logs of the env's services, prefixed and coloured per service; service `init` is the init steps' log",
    )
    .option("-f, --follow", "keep printing new lines")
    .option("-n, --lines <n>", "lines of history per service (default 100; all with --since)")
    .option("-t, --timestamps", "print each line's time")
    .option("--since <when>", 'only lines since then: a duration like "10m", or a time')
    .action(
      async (
        name: string,
        service: string | undefined,
        o: { follow?: boolean; lines?: string; timestamps?: boolean; since?: string },
      ) => {
        const { logs } = await import("./commands/logs");
        await logs({
          name,
          service,
          follow: o.follow,
          ...(o.lines !== undefined ? { lines: o.lines } : {}),
          ...(o.timestamps ? { timestamps: true } : {}),
          ...(o.since !== undefined ? { since: o.since } : {}),
          signal,
        });
      },
    );
  cmd
    .command("open <name>")
    .description("attach the env's zellij session, or a shell in its worktree with env.sh loaded")
    .action(async (name: string) => {
      const { open } = await import("./commands/open");
      const code = await open({ name });
      if (code !== 0) throw new ExitCode(code);
    });
  specOptions(cmd.command("validate"))
    .description("check a spec (schema, graph, ports, binaries) without starting anything")
    .option("--json", "print one JSON document on stdout")
    .action(async (o: SpecFlags & { json?: boolean }) => {
      const { validate } = await import("./commands/validate");
      const code = await validate(o);
      if (code !== 0) throw new ExitCode(code);
    });
  specOptions(cmd.command("doctor"))
    .description("check git, Docker, the Pulumi toolchain, zellij and Temporal")
    .option("--json", "print one JSON document on stdout")
    .action(async (o: SpecFlags & { json?: boolean }) => {
      const { doctor } = await import("./commands/doctor");
      const code = await doctor(o);
      if (code !== 0) throw new ExitCode(code);
    });
  cmd
    .command("destroy <name>")
    .description("remove the env and everything it owns")
    .option(
      "--force",
      "destroy even with uncommitted changes in the worktree, or with a remote host that is gone",
    )
    .option("-y, --yes", "do not ask")
    .option("--json", "print one JSON document on stdout")
    .option("--wait", WAIT)
    .option("--wait-timeout <duration>", WAIT_TIMEOUT)
    .action(
      async (
        name: string,
        o: { force?: boolean; yes?: boolean; json?: boolean; wait?: boolean },
      ) => {
        const { destroy } = await import("./commands/destroy");
        await destroy({ name, ...o, signal });
      },
    );
  cmd
    .command("list")
    .alias("ls")
    .description("list envs")
    .option("--json", "print one JSON document on stdout")
    .action(async (o: { json?: boolean }) => {
      const { list } = await import("./commands/list");
      await list(o);
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
    .option(
      "--force",
      "stop an operation still running on the env first (what it was creating may be left half made)",
    )
    .action(async (name: string, o: { force?: boolean }) => {
      const { recover } = await import("./commands/recover");
      await recover({ name, ...o });
    });

  const host = cmd
    .command("host")
    .description("the hosts envs run on: this machine (localhost), SSH hosts, VMs");
  const remoteOptions = (c: Command): Command =>
    c
      .option("-i, --identity <key>", "SSH private key (default: $ENVCTL_SSH_KEY, else ssh's own)")
      .option("--timeout <duration>", "limit per host (500ms, 5s, 1m)", "5s");
  host
    .command("add <id>")
    .description("register a host by the address of its Docker engine")
    .requiredOption("--host <host>", "hostname or IP address")
    .option("--port <port>", "Docker engine port", "2375")
    .option("--ssh <user@host[:port]>", "SSH access (port 22 when omitted)")
    .option("--json", "print one JSON document on stdout")
    .action(async (id: string, o: { host: string; port: string; ssh?: string; json?: boolean }) => {
      const { hostAdd } = await import("./commands/host");
      hostAdd({ id, ...o });
    });
  host
    .command("list")
    .alias("ls")
    .description("list hosts: address, ssh, status, last heartbeat, devices")
    .option("--status <status>", "only hosts with this status (unknown, online, offline)")
    .option("--json", "print one JSON document on stdout")
    .action(async (o: { status?: string; json?: boolean }) => {
      const { hostList } = await import("./commands/host");
      hostList(o);
    });
  host
    .command("show <id>")
    .description("one host in full, with the envs placed on it")
    .option("--json", "print one JSON document on stdout")
    .action(async (id: string, o: { json?: boolean }) => {
      const { hostShow } = await import("./commands/host");
      hostShow({ id, ...o });
    });
  host
    .command("rm <id>")
    .description("remove a host (refused while envs are placed on it)")
    .option("--force", "remove even while envs are placed on it, or when it is localhost")
    .option("--json", "print one JSON document on stdout")
    .action(async (id: string, o: { force?: boolean; json?: boolean }) => {
      const { hostRm } = await import("./commands/host");
      hostRm({ id, ...o });
    });
  remoteOptions(host.command("check [ids...]"))
    .description(
      "probe hosts (all when none given) and record online/offline; exit 1 if any is offline",
    )
    .option("--json", "print one JSON document on stdout")
    .action(async (ids: string[], o: { identity?: string; timeout: string; json?: boolean }) => {
      const { hostCheck } = await import("./commands/host");
      const code = await hostCheck({ ids, ...o, signal });
      if (code !== 0) throw new ExitCode(code);
    });
  remoteOptions(host.command("detect <id>"))
    .description(
      "read CPU cores, RAM and GPUs (locally for localhost, else over SSH) and store them",
    )
    .option("--json", "print one JSON document on stdout")
    .action(async (id: string, o: { identity?: string; timeout: string; json?: boolean }) => {
      const { hostDetect } = await import("./commands/host");
      await hostDetect({ id, ...o, signal });
    });
  host
    .command("stale")
    .description("hosts whose last heartbeat is older than --max-age")
    .requiredOption("--max-age <duration>", "e.g. 500ms, 60s, 5m")
    .option("--mark-offline", "set their status to offline")
    .option("--json", "print one JSON document on stdout")
    .action(async (o: { maxAge: string; markOffline?: boolean; json?: boolean }) => {
      const { hostStale } = await import("./commands/host");
      hostStale(o);
    });
  return cmd;
}

async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  let interruptedBy: NodeJS.Signals = "SIGINT";
  // Ctrl-C and SIGTERM reach the engine as its own graceful stop, and envctl waits for it; a
  // second one exits at once (the engine's processes then stop themselves: lib/runtime/processes.ts).
  const interrupt = (signal: NodeJS.Signals): void => {
    interrupts += 1;
    interruptedBy = signal;
    if (interrupts > 1) process.exit(signal === "SIGINT" ? 130 : 143);
    if (!["logs", "open", "host"].includes(argv[2] ?? "")) {
      process.stderr.write(
        `\ninterrupting: letting the engine stop cleanly (${signal === "SIGINT" ? "Ctrl-C" : "SIGTERM"} again to force)\n`,
      );
    }
    controller.abort();
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  try {
    await program(controller.signal).parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof ExitCode) return err.code;
    if (err instanceof CommanderError) {
      // commander already printed the problem (or help/version)
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UserError) {
      // Bad input quotes what the user gave, which may be anything: print it safely.
      const show = err.exitCode === 2 ? printable : (l: string) => l;
      process.stderr.write(`envctl: ${show(err.message)}\n`);
      for (const d of err.details) process.stderr.write(`  ${show(d)}\n`);
      if (!controller.signal.aborted) return err.exitCode;
      return interruptedBy === "SIGINT" ? 130 : 143;
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
