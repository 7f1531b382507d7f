/**
 * zellij as a viewer of an env (dust-hive's model): a shell tab with env.sh loaded and one tab
 * per service following its log. The services are daemons and containers that run without it,
 * so closing zellij stops nothing. Everything here is pure.
 */
import * as path from "node:path";
import { logFilePath } from "../../runtime/daemon";
import { containerName } from "../../core/names";
import { shellQuote } from "../../core/shell";

/** The zellij session of an env. */
export const sessionName = (env: string): string => `envctl-${env}`;

export interface LayoutInput {
  /** Env name. */
  name: string;
  /** The env's worktree: every tab starts there. */
  worktree: string;
  /** `$ENVCTL_HOME/envs/NAME`: env.sh and the process logs. */
  stateDir: string;
  /** The user's shell, run interactively in the shell tab. */
  shell: string;
  /** In spec order: one tab each. */
  services: { name: string; type: "container" | "process" }[];
  /** Lines of history each service tab starts with. @default 100 */
  tail?: number;
}

/**
 * The layout `envctl open` starts the session with. The shell tab sources env.sh with /bin/sh and
 * then execs the user's shell, which inherits the exports whatever shell it is.
 */
export function zellijLayout(input: LayoutInput): string {
  const tail = String(input.tail ?? 100);
  const envSh = shellQuote(path.join(input.stateDir, "env.sh"), { minimal: true });
  const shellScript =
    `if [ -f ${envSh} ]; then . ${envSh}; fi; ` +
    `export ENVCTL_ENV=${shellQuote(input.name, { minimal: true })}; exec ${shellQuote(input.shell, { minimal: true })}`;
  const tabs = [
    tab("shell", input.worktree, "/bin/sh", ["-c", shellScript], true),
    ...input.services.map((svc) =>
      svc.type === "process"
        ? // Without the times envctl-stamp puts on each line, as the container tabs show theirs.
          tab(svc.name, input.worktree, "/bin/sh", [
            "-c",
            `tail -n ${tail} -F ${shellQuote(logFilePath(input.stateDir, svc.name))} | sed -u -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z //'`,
          ])
        : tab(svc.name, input.worktree, "docker", [
            "logs",
            "-f",
            "--tail",
            tail,
            containerName(input.name, svc.name),
          ]),
    ),
  ];
  return [
    `// zellij layout of envctl env ${input.name}, rewritten by every \`envctl open ${input.name}\`.`,
    "layout {",
    // Without a tab template a layout has no tab bar or status bar.
    "    default_tab_template {",
    "        pane size=1 borderless=true {",
    '            plugin location="zellij:tab-bar"',
    "        }",
    "        children",
    "        pane size=2 borderless=true {",
    '            plugin location="zellij:status-bar"',
    "        }",
    "    }",
    ...tabs.flat(),
    "}",
    "",
  ].join("\n");
}

function tab(name: string, cwd: string, command: string, args: string[], focus = false): string[] {
  return [
    `    tab name=${kdlString(name)}${focus ? " focus=true" : ""} {`,
    `        pane command=${kdlString(command)} cwd=${kdlString(cwd)} {`,
    `            args ${args.map(kdlString).join(" ")}`,
    "        }",
    "    }",
  ];
}

/** A KDL (v1) quoted string. */
export function kdlString(s: string): string {
  const escaped = s.replace(/[\\"\n\r\t\b\f]/g, (ch) => KDL_ESCAPES[ch] ?? ch);
  return `"${escaped}"`;
}

const KDL_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

/**
 * Sessions in `zellij list-sessions --no-formatting` output: one per line, the name first, then
 * `[Created ...]` and markers such as `(current)` or `(EXITED - attach to resurrect)`.
 */
export function parseSessions(output: string): { name: string; exited: boolean }[] {
  return output
    .replace(/\x1b\[[0-9;]*m/g, "") // in case formatting was not turned off
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !/^no active zellij sessions/i.test(line))
    .map((line) => ({ name: line.split(/\s+/)[0]!, exited: /\bEXITED\b/.test(line) }));
}
