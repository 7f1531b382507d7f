/**
 * `envctl list` (reads the SQLite catalog) vs `pulumi stack ls` (reads the backend) with 20 envs
 * on the same temp file backend. The stacks are created with the pulumi CLI, not with `up`, so
 * no containers are involved. Run alone: `node dist/bench/list.js`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { openCatalog } from "../lib/catalog";
import { MAX_BLOCK } from "../lib/ports";
import { tempHome } from "../test/support/env";
import {
  benchEnv,
  ENVCTL,
  inBatches,
  log,
  PULUMI,
  result,
  ROOT,
  run,
  runAlone,
  timeInterleaved,
  type BenchResult,
  type Cmd,
} from "./support";

export interface ListBenchOptions {
  /** @default 20 */
  envs?: number;
  /** Timed runs per side. @default 15 */
  runs?: number;
}

export async function listBench(opts: ListBenchOptions = {}): Promise<BenchResult> {
  const count = opts.envs ?? 20;
  const runs = opts.runs ?? 15;
  const home = tempHome();
  const env = benchEnv(home);
  const prefix = `bench-${process.pid}`;
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const pulumi = (label: string, ...args: string[]): Cmd => ({
    label,
    file: PULUMI,
    args,
    cwd: ROOT,
    env,
  });

  try {
    log(`list: creating ${count} stacks and catalog rows in ${home.root}`);
    // --no-select: do not change the selected stack of the checkout others work in.
    await inBatches(names, 4, (name) =>
      run(
        pulumi(
          `pulumi stack init ${name}`,
          "stack",
          "init",
          name,
          "--no-select",
          "--non-interactive",
        ),
      ).then(() => {}),
    );
    const catalog = openCatalog(home.root);
    try {
      for (const name of names) {
        const lease = catalog.leaseBlock(name, MAX_BLOCK);
        catalog.upsertEnv({
          name,
          kind: "devenv",
          specHash: "bench",
          host: "localhost",
          worktreePath: null,
          branch: null,
          block: lease.block,
          status: "ready",
          outputs: null,
        });
      }
    } finally {
      catalog.close();
    }

    log(`list: timing ${runs} runs each of envctl list and pulumi stack ls`);
    const listed = (text: string): number =>
      text.split("\n").filter((l) => l.includes(`${prefix}-`)).length;
    const t = await timeInterleaved(
      { label: "envctl list", file: ENVCTL, args: ["list"], cwd: ROOT, env },
      pulumi("pulumi stack ls", "stack", "ls"),
      runs,
      (which, out) => {
        // Both sides must really see all the envs, or the comparison means nothing.
        if (listed(out.stdout) !== count) {
          const who = which === "a" ? "envctl list" : "pulumi stack ls";
          throw new Error(`${who} listed ${listed(out.stdout)} of ${count} envs:\n${out.stdout}`);
        }
      },
    );
    return result("list", t.a, t.b);
  } finally {
    log("list: removing the temp stacks");
    await inBatches(names, 4, (name) =>
      run(
        pulumi(
          `pulumi stack rm ${name}`,
          "stack",
          "rm",
          name,
          "--yes",
          "--force",
          "--non-interactive",
        ),
      ).then(
        () => {},
        () => {}, // never created, or already gone: the files below are removed either way
      ),
    );
    for (const name of names) fs.rmSync(path.join(ROOT, `Pulumi.${name}.yaml`), { force: true });
    fs.rmSync(home.root, { recursive: true, force: true });
  }
}

if (require.main === module) runAlone(() => listBench());
