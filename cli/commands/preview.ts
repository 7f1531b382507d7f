import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import {
  forgetStack,
  createStack,
  openEngine,
  stackConfig,
  trySelectStack,
  type Engine,
} from "../../lib/engine/automation";
import { UserError } from "../../lib/core/errors";
import { engineFailure } from "../../lib/engine/errors";
import { Progress } from "../../lib/engine/progress";
import type { ResolvedEnv } from "../../lib/spec/model";
import { freeBlock } from "../../lib/catalog/leases";
import { checkName, openCatalog, seams, type CommandSeams } from "../context";
import { checkRepo } from "../../lib/kinds/devenv/env";
import { loadSpec, specSource, type SpecSource } from "../../lib/spec/sources";
import { kindOf, SPEC_KIND } from "../../lib/kinds";
import { preflight } from "../../lib/spec/validate";
import { jsonDoc } from "../ui/output";

export interface PreviewOptions extends CommandSeams, SpecSource {
  name: string;
  json?: boolean;
}

/** A copy of the stack's config file (same encryption salt) with the proposed env config in it. */
function proposedConfigFile(engine: Engine, name: string, env: ResolvedEnv): string {
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

/** Shows what `up` would change, resource by resource; changes nothing. */
export async function preview(opts: PreviewOptions): Promise<{ changes: Record<string, number> }> {
  const s = seams(opts);
  checkName(opts.name);
  const { spec } = loadSpec(specSource(opts), s.cwd);
  await checkRepo(spec);
  await preflight(spec);
  const catalog = openCatalog(s.home);
  let engine: Engine | undefined;
  let temporaryStack = false;
  try {
    engine = await openEngine(s.home);
    const selected = await trySelectStack(engine, opts.name);
    const existed = selected !== undefined;
    const lease = catalog.getLease(opts.name);
    const block =
      lease?.block ?? (await freeBlock(spec, new Set(catalog.leases().map((l) => l.block))));
    if (block === undefined) throw new UserError(`no free port block for ${opts.name}`);
    const env = kindOf(SPEC_KIND, "spec").resolve(opts.name, spec, block, s.home);
    const stack = selected ?? (await createStack(engine, opts.name));
    temporaryStack = !existed;
    const configFile = proposedConfigFile(engine, opts.name, env);
    const progress = new Progress(opts.json ? undefined : s.log, true);
    let res;
    try {
      res = await stack.preview({ onEvent: progress.onEvent, configFile, signal: s.signal });
    } catch (err) {
      throw engineFailure(err, {
        verb: "preview",
        env: opts.name,
        diagnostics: progress.diagnostics,
        interrupted: s.signal?.aborted,
      });
    } finally {
      fs.rmSync(path.dirname(configFile), { recursive: true, force: true });
    }
    const changes = res.changeSummary as Record<string, number>;
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
    if (engine && temporaryStack)
      await (
        await engine.workspace()
      )
        .removeStack(opts.name)
        .then(() => forgetStack(engine!, opts.name))
        .catch(() => undefined);
    catalog.close();
  }
}
