import * as fs from "node:fs";
import { checkCopilotReady } from "../../lib/kinds/copilot/ready";
import { checkHivesyncReady } from "../../lib/kinds/hivesync/ready";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import type { Stack } from "@pulumi/pulumi/automation";
import {
  createStack,
  openEngine,
  selectStack,
  stackConfig,
  stackOnDisk,
  trySelectStack,
  type Engine,
} from "../../lib/engine/automation";
import { UserError } from "../../lib/core/errors";
import { resolveHome, type Home } from "../../lib/core/home";
import { engineFailure } from "../../lib/engine/errors";
import { Progress } from "../../lib/engine/progress";
import type { ResolvedEnv } from "../../lib/spec/model";
import { freeBlock } from "../../lib/catalog/leases";
import { checkName, readCatalog, seams, type CommandSeams } from "../context";
import { checkRepo } from "../../lib/kinds/devenv/env";
import { loadSpec, specSource, type SpecSource } from "../../lib/spec/sources";
import { kindOf, resolveFor, resolveOptions, SPEC_KIND } from "../../lib/kinds";
import { ensureSecrets } from "../../lib/engine/secrets";
import { preflight } from "../../lib/spec/validate";
import { jsonDoc } from "../ui/output";

export interface PreviewOptions extends CommandSeams, SpecSource {
  name: string;
  json?: boolean;
  /** As up's: preview with the generated secrets asked for. */
  generateSecrets?: boolean;
}

/** A copy of the stack's config file (same encryption salt) with the proposed env config in it. */
export function proposedConfigFile(engine: Engine, name: string, env: ResolvedEnv): string {
  const current = path.join(engine.project, `Pulumi.${name}.yaml`);
  const doc = (fs.existsSync(current) ? YAML.parse(fs.readFileSync(current, "utf8")) : {}) as {
    config?: Record<string, unknown>;
  };
  doc.config = {
    ...(doc.config ?? {}),
    ...Object.fromEntries(Object.entries(stackConfig(env)).map(([k, v]) => [k, v.value])),
  };
  const file = path.join(
    fs.mkdtempSync(path.join(os.tmpdir(), "envctl-preview-")),
    `Pulumi.${name}.yaml`,
  );
  fs.writeFileSync(file, YAML.stringify(doc), { mode: 0o600 });
  return file;
}

/** Runs the engine's preview of `env` on `stack` with the proposed config; changes nothing. */
export async function previewOn(
  s: ReturnType<typeof seams>,
  engine: Engine,
  stack: Stack,
  env: ResolvedEnv,
  progress: Progress,
  secrets?: Record<string, string>,
): Promise<Record<string, number>> {
  const configFile = proposedConfigFile(engine, env.name, env);
  try {
    if (secrets) await ensureSecrets(engine, env.name, secrets, configFile);
    const res = await stack.preview({ onEvent: progress.onEvent, configFile, signal: s.signal });
    return res.changeSummary;
  } catch (err) {
    throw engineFailure(err, {
      verb: "preview",
      env: env.name,
      diagnostics: progress.diagnostics,
      interrupted: s.signal?.aborted,
    });
  } finally {
    fs.rmSync(path.dirname(configFile), { recursive: true, force: true });
  }
}

/**
 * An engine of its own for an env that has no stack yet: a throwaway home in `dir` (project,
 * file backend, passphrase, PULUMI_HOME), so neither this home nor its backend ever holds a
 * stack for the preview, whatever becomes of it (a failure, Ctrl-C, a kill). The plan is the
 * one a new stack in the real backend gets: every resource created.
 */
async function scratchEngine(dir: string, home: Home): Promise<Engine> {
  const engine = await openEngine(resolveHome({ ENVCTL_HOME: dir }));
  // Before the engine's first use (the workspace is made lazily, with this env object).
  const pulumiHome = path.join(dir, "pulumi-home");
  // The provider plugins installed for the real engine (a Linode VM's, the AWS part's) serve
  // the scratch one too: its own PULUMI_HOME holds only what the preview writes.
  const plugins = path.join(
    process.env.PULUMI_HOME ?? path.join(process.env.HOME ?? os.homedir(), ".pulumi"),
    "plugins",
  );
  if (fs.existsSync(plugins)) {
    fs.mkdirSync(pulumiHome, { recursive: true });
    fs.symlinkSync(plugins, path.join(pulumiHome, "plugins"));
  }
  Object.assign(engine.env, {
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_HOME: pulumiHome,
    ENVCTL_HOME: home.root,
  });
  return engine;
}

/**
 * Shows what `up` would change, resource by resource; writes nothing to the home. An env whose
 * stack exists is previewed on it; a new one on a temporary stack outside the home.
 */
export async function preview(opts: PreviewOptions): Promise<{ changes: Record<string, number> }> {
  const s = seams(opts);
  checkName(opts.name);
  const { spec } = loadSpec(specSource(opts), s.cwd);
  checkCopilotReady(spec, "preview", s.log);
  checkHivesyncReady(spec, "preview", s.log);
  await checkRepo(spec);
  await preflight(spec);
  const catalog = readCatalog(s.home);
  let lease;
  let leased;
  let prior;
  try {
    lease = catalog?.getLease(opts.name);
    leased = new Set(catalog?.leases().map((l) => l.block));
    prior = catalog?.getEnv(opts.name)?.resolved;
  } finally {
    catalog?.close();
  }
  const block = lease?.block ?? (await freeBlock(spec, leased));
  if (block === undefined) throw new UserError(`no free port block for ${opts.name}`);
  const def = kindOf(spec.kind ?? SPEC_KIND, "spec");
  const ropts = {
    ...resolveOptions(spec, prior, opts.generateSecrets),
    hostById: (id: string) => {
      const c = readCatalog(s.home);
      try {
        return c?.hosts.get(id);
      } finally {
        c?.close();
      }
    },
  };
  const { env, secrets } = resolveFor(def, opts.name, spec, block, s.home, undefined, ropts);

  let scratch: string | undefined;
  try {
    let engine: Engine | undefined;
    let stack: Stack | undefined;
    const onDisk = stackOnDisk(s.home, opts.name);
    if (onDisk !== false) {
      engine = await openEngine(s.home);
      stack = onDisk
        ? await selectStack(engine, opts.name)
        : await trySelectStack(engine, opts.name);
    }
    const existed = stack !== undefined;
    if (!stack) {
      scratch = fs.mkdtempSync(path.join(os.tmpdir(), "envctl-preview-stack-"));
      engine = await scratchEngine(scratch, s.home);
      stack = await createStack(engine, opts.name);
    }
    const progress = new Progress(opts.json ? undefined : s.log, true);
    const changes = await previewOn(s, engine!, stack, env, progress, secrets);
    const real = Object.entries(changes).filter(([k, v]) => k !== "same" && v > 0);
    if (opts.json) {
      s.out(
        jsonDoc("preview", { env: opts.name, exists: existed, changes, operations: progress.ops }),
      );
    } else {
      s.out(
        real.length
          ? `${opts.name}: ${real.map(([k, v]) => `${v} to ${k}`).join(", ")}`
          : `${opts.name}: no changes`,
      );
    }
    return { changes };
  } finally {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  }
}
