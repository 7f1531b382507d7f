/**
 * `envctl list` and `envctl list --json` (catalog, one Docker call, pid files) vs
 * `pulumi stack ls` (reads the backend) with 20 envs on the same temp file backend.
 *
 * The envs look like real ones to `list`: each catalog row holds a resolved env and a desired
 * state (bench/fixtures/list/envctl.yaml bound to its port block). Warm envs have their
 * containers (labelled like envctl's) and daemons (started through lib/runtime/daemon) running, cold
 * envs their cold daemon, stopped envs nothing; so `list` finds live containers and pid files
 * and every env reads as its desired state. The stacks are made with the pulumi CLI (no `up`),
 * since `pulumi stack ls` only reads the backend. Run alone: `node dist/bench/list.js`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Catalog } from "../lib/catalog/catalog";
import { homeProject } from "../lib/engine/automation";
import { startDaemon, stopDaemon } from "../lib/runtime/daemon";
import { runningServices } from "../lib/kinds/devenv/lifecycle";
import { containerName, LABEL_ENV, LABEL_SERVICE } from "../lib/core/names";
import { MAX_BLOCK } from "../lib/spec/ports";
import { resolveEnv } from "../lib/kinds/devenv/resolve";
import { formatIssue, loadSpecFile, specHash } from "../lib/spec/load";
import type { EnvState, ResolvedEnv } from "../lib/spec/model";
import { tempHome } from "../test/support/env";
import {
  benchEnv,
  cmdSide,
  ENVCTL,
  inBatches,
  log,
  median,
  ms,
  PULUMI,
  result,
  ROOT,
  run,
  runAlone,
  timeSides,
  withCleanup,
  type BenchResult,
  type Cmd,
} from "./support";

const SPEC = path.join(ROOT, "bench", "fixtures", "list", "envctl.yaml");

export interface ListBenchOptions {
  /** @default 20 */
  envs?: number;
  /** Timed runs per side. @default 15 */
  runs?: number;
}

/** Desired state of env i: a fifth warm, two fifths cold, the rest stopped. */
function stateOf(i: number, count: number): EnvState {
  if (i < Math.ceil(count / 5)) return "warm";
  if (i < Math.ceil((count * 3) / 5)) return "cold";
  return "stopped";
}

export async function listBench(opts: ListBenchOptions = {}): Promise<BenchResult[]> {
  const count = opts.envs ?? 20;
  const runs = opts.runs ?? 15;
  const home = tempHome();
  const emptyHome = tempHome();
  const env = benchEnv(home);
  const prefix = `bench-${process.pid}`;
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const benchLabel = `envctl.bench=list-${process.pid}`;
  const pulumi = (label: string, ...args: string[]): Cmd => ({
    label,
    file: PULUMI,
    args,
    cwd: home.projectDir, // where pulumi finds the project and its stacks' settings
    env,
  });
  const docker = (label: string, ...args: string[]): Cmd => ({
    label,
    file: "docker",
    args,
    cwd: ROOT,
    env: process.env,
  });
  const envs: ResolvedEnv[] = [];

  const measure = async (): Promise<BenchResult[]> => {
    const parsed = loadSpecFile(SPEC);
    if (!parsed.spec) throw new Error(`${SPEC}: ${parsed.errors.map(formatIssue).join("; ")}`);
    const spec = parsed.spec;

    log(`list: creating ${count} stacks and catalog rows in ${home.root}`);
    homeProject(home);
    // --no-select: leave the project's selected stack alone.
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
    const catalog = Catalog.open(home.catalogFile);
    try {
      names.forEach((name, i) => {
        const block = catalog.leaseBlock(name, MAX_BLOCK).block;
        const resolved = resolveEnv(name, spec, block, home, stateOf(i, count));
        catalog.upsertEnv({
          name,
          kind: "devenv",
          specHash: specHash(spec),
          host: "localhost",
          worktreePath: resolved.worktreeDir,
          branch: resolved.branch,
          block,
          status: "ready",
          outputs: null,
        });
        catalog.setDesired(name, resolved);
        envs.push(resolved);
      });
    } finally {
      catalog.close();
    }

    // What each desired state runs, for real: `list` checks these containers and pid files.
    const running = envs.flatMap((e) => {
      const want = runningServices(e.services, e.state);
      return e.services.filter((s) => want.has(s.name)).map((svc) => ({ e, svc }));
    });
    log(`list: starting ${running.length} services of the warm and cold envs`);
    await inBatches(running, 4, async ({ e, svc }) => {
      if (svc.type === "process") {
        const cmd = svc.cmd;
        await startDaemon({ name: svc.name, dir: e.stateDir, cwd: home.root, cmd, env: {} });
        return;
      }
      if (!svc.image) throw new Error(`${SPEC}: ${svc.name} needs an image`);
      const labels = [`${LABEL_ENV}=${e.name}`, `${LABEL_SERVICE}=${svc.name}`, benchLabel];
      await run(
        docker(
          `docker run ${svc.name}`,
          "run",
          "-d",
          "--name",
          containerName(e.name, svc.name),
          ...labels.flatMap((l) => ["--label", l]),
          svc.image,
          ...(svc.command ?? []),
        ),
      );
    });

    log(`list: timing ${runs} runs each of envctl list, list --json, pulumi stack ls, empty list`);
    const rows = (text: string): number =>
      text.split("\n").filter((l) => new RegExp(`^│ ${prefix}-\\d+ `).test(l)).length;
    const text = cmdSide(
      { label: "envctl list", file: ENVCTL, args: ["list"], cwd: ROOT, env },
      (out) => {
        // Every env listed, none flagged: the live containers and daemons were all found.
        if (rows(out.stdout) !== count || out.stdout.includes("⚠")) {
          throw new Error(`envctl list: expected ${count} envs, none flagged:\n${out.stdout}`);
        }
      },
    );
    const json = cmdSide(
      { label: "envctl list --json", file: ENVCTL, args: ["list", "--json"], cwd: ROOT, env },
      (out) => checkJson(out.stdout, envs),
    );
    const stacks = cmdSide(pulumi("pulumi stack ls", "stack", "ls"), (out) => {
      const listed = out.stdout.split("\n").filter((l) => l.includes(`${prefix}-`)).length;
      if (listed !== count) {
        throw new Error(`pulumi stack ls listed ${listed} of ${count} stacks:\n${out.stdout}`);
      }
    });
    // The floor: the same command on an empty catalog (no Docker call, no pid file).
    const emptyEnv = benchEnv(emptyHome);
    const empty = cmdSide(
      { label: "envctl list (empty)", file: ENVCTL, args: ["list"], cwd: ROOT, env: emptyEnv },
      (out) => {
        if (!out.stdout.startsWith("no envs")) throw new Error(`not empty:\n${out.stdout}`);
      },
    );
    const [t, j, p, f] = await timeSides([text, json, stacks, empty], runs);
    const baseline = { label: "pulumi stack ls", times: p };
    const warm = envs.filter((e) => e.state === "warm").length;
    const cold = envs.filter((e) => e.state === "cold").length;
    const notes = [
      `${count} envs (${warm} warm, ${cold} cold, ${count - warm - cold} stopped); ${running.length} live containers and daemons`,
      `envctl list on an empty catalog (node start-up, CLI, catalog open; no Docker call): median ${ms(median(f))}`,
    ];
    return [
      result("list", { label: "envctl list", times: t }, baseline, { notes }),
      result("list-json", { label: "envctl list --json", times: j }, baseline),
    ];
  };

  const cleanup = async (): Promise<void> => {
    log("list: stopping the daemons and containers, removing the temp stacks");
    const steps: (() => Promise<unknown>)[] = [
      ...envs.flatMap((e) =>
        e.services
          .filter((svc) => svc.type === "process")
          .map((svc) => () => stopDaemon(e.stateDir, svc.name, { graceMs: 2_000 })),
      ),
      async () => {
        const ps = await run(docker("docker ps", "ps", "-aq", "--filter", `label=${benchLabel}`));
        const ids = ps.stdout.split("\n").filter(Boolean);
        if (ids.length > 0) await run(docker("docker rm -f", "rm", "-f", ...ids));
      },
      () =>
        inBatches(names, 4, (name) =>
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
        ),
    ];
    // Every step runs even when one fails; the first failure is reported.
    const failures: unknown[] = [];
    for (const step of steps) await step().catch((err: unknown) => failures.push(err));
    if (failures.length > 0) throw failures[0];
    fs.rmSync(home.root, { recursive: true, force: true });
    fs.rmSync(emptyHome.root, { recursive: true, force: true });
  };

  return withCleanup("list", measure, cleanup);
}

interface ListedEnv {
  name: string;
  state: string;
  warnings: string[];
  services?: { expected: boolean; running?: boolean }[];
}

/** Each env listed in the state it should be in, with exactly its expected services running. */
function checkJson(stdout: string, envs: ResolvedEnv[]): void {
  const listed = (JSON.parse(stdout) as { envs: ListedEnv[] }).envs;
  const byName = new Map(listed.map((e) => [e.name, e]));
  const problem = (want: ResolvedEnv): string | undefined => {
    const got = byName.get(want.name);
    if (!got) return "missing";
    if (got.state !== want.state) return `state ${got.state}, expected ${want.state}`;
    if (got.warnings.length > 0) return got.warnings.join(", ");
    if (got.services?.some((s) => s.expected !== s.running)) return "services disagree";
    return undefined;
  };
  for (const want of envs) {
    const p = problem(want);
    if (p) throw new Error(`envctl list --json: ${want.name}: ${p}`);
  }
}

if (require.main === module) runAlone(() => listBench());
