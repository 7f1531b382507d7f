/**
 * The compose bench's profile: one `envctl warm` and one `envctl cool` worth of engine work,
 * traced. envctl's own `pulumi up` takes no extra flags, so this does what the verbs do
 * between their progress line and their catalog write: puts the env's config with the other
 * desired state into the stack's settings (ensureConfig, as lib/engine/update's caller does),
 * then runs the same pulumi command (runPulumi, same arguments: `up` for warm, the targeted
 * `destroy` of the leaving services for cool) plus `--otel-traces file://...`.
 * The catalog is not touched: the env is cold before and after. The spans (bench/engine-trace.ts)
 * and Docker's events (bench/timeline.ts) together say where the engine's time goes.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Catalog } from "../lib/catalog/catalog";
import type { Home } from "../lib/core/home";
import { ensureConfig, openEngine, stackConfig, type Engine } from "../lib/engine/automation";
import { readStack } from "../lib/engine/state";
import { runPulumi } from "../lib/engine/update";
import { leavingResources } from "../lib/kinds/devenv/lifecycle";
import type { ResolvedEnv } from "../lib/spec/model";
import { tempDir } from "../test/support/env";
import { engineMarks, readTrace, type EngineMarks } from "./engine-trace";
import {
  expectGone,
  expectHealthy,
  recordEvents,
  serviceTimes,
  type DockerEvent,
  type EventScope,
} from "./timeline";

interface Traced {
  /** Epoch ms the bench started pulumi at, and its wall time. */
  t0: number;
  ms: number;
  marks: EngineMarks;
  events: DockerEvent[];
}

/** `command` is what the verb runs: `pulumi up` for warm, the targeted destroy for cool. */
async function tracedUp(
  engine: Engine,
  command: string[],
  dir: string,
  label: string,
  scope: EventScope,
): Promise<Traced> {
  const trace = path.join(dir, `${label}.otel.json`);
  const args = [...command];
  args.push("--exec-kind", "auto.local", "--event-log", path.join(dir, `${label}.events.json`));
  args.push("--otel-traces", `file://${trace}`);
  const rec = await recordEvents(scope);
  const t0 = Date.now();
  try {
    await runPulumi(engine, args);
  } catch (err) {
    await rec.stop();
    throw err;
  }
  const ms = Date.now() - t0;
  return { t0, ms, events: await rec.stop(), marks: engineMarks(readTrace(trace)) };
}

/** Seconds from `t0`, two decimals; `?` when the trace lacks the mark. */
const at = (t0: number, x: number | undefined): string =>
  x === undefined ? "?" : `${((x - t0) / 1000).toFixed(2)} s`;
const dur = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined ? "?" : `${((b - a) / 1000).toFixed(2)} s`;

export async function profileEngine(args: {
  home: Home;
  name: string;
  deps: Record<string, string[]>;
  services: number;
  scope: EventScope;
}): Promise<{ up: string[]; down: string[] }> {
  const { home, name, scope } = args;
  const catalog = Catalog.open(home.catalogFile);
  let cold: ResolvedEnv | null | undefined;
  try {
    cold = catalog.getEnv(name)?.resolved;
  } finally {
    catalog.close();
  }
  if (cold?.state !== "cold") throw new Error(`profile: env ${name} is not recorded cold`);
  const engine = await openEngine(home);
  const dir = tempDir("trace");
  try {
    await ensureConfig(engine, name, stackConfig({ ...cold, state: "warm" }));
    const up = ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", name];
    const warm = await tracedUp(engine, up, dir, "warm", scope);
    await expectHealthy(scope, args.services, "the traced warm");
    await ensureConfig(engine, name, stackConfig(cold));
    // As `envctl cool` does it (cli/commands/apply.ts applyRemoval): no program.
    const held = (await readStack(engine, name)).resources;
    const targets = leavingResources(name, cold.services, "warm", "cold", held) ?? [];
    const destroy = ["destroy", "--yes", "--skip-preview", "--non-interactive", "--stack", name];
    const cool = await tracedUp(
      engine,
      [...destroy, ...targets.flatMap((u) => ["--target", u])],
      dir,
      "cool",
      scope,
    );
    await expectGone(scope, "the traced cool");
    return { up: warmLines(warm, name, args.deps), down: coolLines(cool) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The container's Create call: the one that returned when the engine answered the program's
 * registration of that Container (the provider's spans carry no resource name).
 */
function createOf(
  t: Traced,
  env: string,
  service: string,
): { start: number; end: number } | undefined {
  const reg = t.marks.registrations.find(
    (r) => r.type.endsWith(":Container") && r.name === `${env}-${service}`,
  );
  if (!reg) return undefined;
  const creates = t.marks.calls.filter((c) => c.method === "Create" && c.end <= reg.end + 5);
  return creates.sort((a, b) => b.end - a.end)[0];
}

/** The Delete call that removed the container: the latest one begun before its destroy event. */
function deleteOf(t: Traced, service: string): { start: number; end: number } | undefined {
  const e = t.events.find((x) => x.service === service && x.action === "destroy");
  const holding = t.marks.calls.filter(
    (c) => c.method === "Delete" && e !== undefined && c.start <= e.at && e.at <= c.end,
  );
  return holding.sort((a, b) => b.start - a.start)[0];
}

function warmLines(t: Traced, env: string, deps: Record<string, string[]>): string[] {
  const m = t.marks;
  const times = serviceTimes(t.events);
  const creates = m.calls.filter((c) => c.method === "Create");
  const firstCreate = creates[0]?.start;
  const before = m.calls.filter((c) => firstCreate === undefined || c.end <= firstCreate);
  const lastHealthy = Math.max(...[...times.values()].map((x) => x.healthy));
  const lines = [
    `profile, one traced warm (the same pulumi up, run with --otel-traces; times from pulumi's start): ` +
      `pulumi took ${dur(t.t0, t.t0 + t.ms)}. CLI, backend, language host: program asked to run at ${at(t.t0, m.run)}; ` +
      `node + @pulumi/pulumi loaded ${dur(m.run, m.sdkReady)} later; Stack registered ${dur(m.sdkReady, m.stack)} later; ` +
      `envctl's program (stacks/, components/, config) registers its first resource ${dur(m.stack, m.program)} later; ` +
      `dynamic provider launched at ${at(t.t0, m.providerLaunch)}, ready (handshake) at ${at(t.t0, m.providerReady)}; ` +
      `${before.length} Check/Diff calls before the first Create (${dur(before[0]?.start, before.at(-1)?.end)}); ` +
      `first container Create at ${at(t.t0, firstCreate)}; last container healthy at ${at(t.t0, lastHealthy)}; ` +
      `program exits ${dur(lastHealthy, m.runEnd)} and pulumi ${dur(lastHealthy, t.t0 + t.ms)} after that`,
  ];
  const per: string[] = [];
  const gaps: string[] = [];
  for (const [s, x] of times) {
    const call = createOf(t, env, s);
    if (!call) continue;
    per.push(
      `${s} ${dur(call.start, call.end)} = ${dur(call.start, x.create)} handler before docker create + ` +
        `${dur(x.create, x.start)} create->start + ${dur(x.start, x.healthy)} start->healthy + ` +
        `${dur(x.healthy, call.end)} healthy->Create returns`,
    );
    const ups = (deps[s] ?? []).map((d) => createOf(t, env, d)?.end);
    if (ups.length > 0 && ups.every((u) => u !== undefined)) {
      gaps.push(`${s} ${dur(Math.max(...ups), call.start)}`);
    }
  }
  lines.push(`profile, each container Create (the handler's span): ${per.join("; ")}`);
  lines.push(
    `profile, last upstream Create returned -> dependent's Create called (engine): ${gaps.join(", ")}`,
  );
  return lines;
}

function coolLines(t: Traced): string[] {
  const m = t.marks;
  const deletes = m.calls.filter((c) => c.method === "Delete");
  const lastEnd = deletes.length > 0 ? Math.max(...deletes.map((d) => d.end)) : undefined;
  const per = [...new Set(t.events.map((e) => e.service))]
    .map((s) => {
      const call = deleteOf(t, s);
      return call ? `${s} ${at(t.t0, call.start)}+${dur(call.start, call.end)}` : undefined;
    })
    .filter(Boolean);
  return [
    `profile, one traced cool (the targeted pulumi destroy envctl cool runs): pulumi took ${dur(t.t0, t.t0 + t.ms)}; ` +
      `${m.run === undefined ? "no program run" : `program asked to run at ${at(t.t0, m.run)}`}, provider launched at ${at(t.t0, m.providerLaunch)}, ` +
      `provider ready at ${at(t.t0, m.providerReady)}; first Delete at ${at(t.t0, deletes[0]?.start)}, last returns at ` +
      `${at(t.t0, lastEnd)}; pulumi exits ${dur(lastEnd, t.t0 + t.ms)} later; ` +
      `each Delete (start+duration): ${per.join(", ")}`,
  ];
}
