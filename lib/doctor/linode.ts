/**
 * What a hivesync env with `target: linode` needs besides envctl's own toolchain: the Linode
 * provider plugin (Pulumi loads it to make the VM, its key and firewall) and an API token
 * (`LINODE_TOKEN`, or the stack's `linode:token` config, which only the engine reads).
 */
import { pluginCheck, problemOf } from "./plugins";
import type { Check } from "./types";

/** The provider the program's `@pulumi/linode` (package.json) asks the engine for. */
export const LINODE_PLUGIN_VERSION = "5.1.1";

export const LINODE_PLUGIN_FIX =
  `pulumi plugin install resource linode v${LINODE_PLUGIN_VERSION} (needs internet), or put ` +
  `pulumi-resource-linode on PATH; or deploy to the VM as an SSH target (hivesync.target ssh)`;

export function checkLinodePlugin(env: NodeJS.ProcessEnv = process.env): Check {
  return pluginCheck("linode", LINODE_PLUGIN_VERSION, LINODE_PLUGIN_FIX, env);
}

/** Advisory: the stack's own `linode:token` config would do too, and only the engine sees it. */
export function checkLinodeToken(env: NodeJS.ProcessEnv = process.env): Check {
  return env.LINODE_TOKEN
    ? { name: "linode token", ok: true, required: false, detail: "LINODE_TOKEN" }
    : {
        name: "linode token",
        ok: false,
        required: false,
        detail: "LINODE_TOKEN is not set (a linode:token in the stack's config would still work)",
        fix: "export LINODE_TOKEN=... (a Linode personal access token with Linodes and Firewalls read/write)",
      };
}

/** What stops the Linode part from running at all (the plugin), as one sentence with its fix. */
export function linodeProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return problemOf(checkLinodePlugin(env));
}
