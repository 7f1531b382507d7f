/**
 * `envctl schema NAME`: applies the Temporal schemas of both clusters of a copilot env (the
 * document's `copilot dev schema setup`): for each cluster, Temporal's SQL schema on its DSQL
 * cluster (temporal-sql-tool in the env's runtime image, with the service's own environment
 * and credential mounts, on the env's network) and its visibility index on Elasticsearch.
 * Every step runs whatever the others did; exit 1 when any failed.
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { UserError } from "../../lib/core/errors";
import { containerName, networkName } from "../../lib/core/names";
import {
  runSteps,
  sqlToolArgs,
  type SchemaStep,
  type StepResult,
} from "../../lib/kinds/copilot/schema";
import { fillTokens, tokensIn } from "../../lib/spec/copilot";
import type { ResolvedContainer, ResolvedEnv } from "../../lib/spec/model";
import { checkName, envRecord, seams, type CommandSeams } from "../context";
import { withOperation } from "../operation";
import { jsonDoc } from "../ui/output";

export interface SchemaOptions extends CommandSeams {
  name: string;
  json?: boolean;
}

/** The clusters: whose environment describes each (its TEMPORAL_SQL_* and index). */
const CLUSTERS = [
  { cluster: "monitored", service: "temporal-history" },
  { cluster: "copilot", service: "copilot-temporal" },
] as const;

/** Where Temporal's versioned DSQL schema lives in the runtime image. */
export const SCHEMA_DIR = "/etc/temporal/schema/dsql/v12/temporal/versioned";

export async function schema(opts: SchemaOptions): Promise<number> {
  const s = seams(opts);
  checkName(opts.name);
  const rec = envRecord(s.home, opts.name, "schema");
  const env = rec.resolved;
  if (!env) throw new UserError(`env ${opts.name} has no recorded spec`, 2);
  // With the AWS part in the stack, the service's environment carries its outputs as tokens:
  // the recorded outputs fill them (a token left means the part has none yet).
  const infra = Object.fromEntries(
    Object.entries((rec.outputs?.infra ?? {}) as Record<string, unknown>).filter(
      (e): e is [string, string] => typeof e[1] === "string",
    ),
  );
  const steps: SchemaStep[] = [];
  for (const c of CLUSTERS) {
    const found = env.services.find((x) => x.name === c.service);
    if (!found || found.type !== "container") continue;
    const svc: ResolvedContainer = {
      ...found,
      env: Object.fromEntries(Object.entries(found.env).map(([k, v]) => [k, fillTokens(v, infra)])),
    };
    steps.push(sqlStep(env, svc, c.cluster, svc.env.TEMPORAL_SQL_HOST ?? "", s.signal));
    steps.push(indexStep(env, svc, c.cluster));
  }
  if (steps.length === 0) {
    throw new UserError(`env ${opts.name} has neither temporal-history nor copilot-temporal`, 2);
  }
  // The env's lock: no up, cool or destroy changes what the steps run against meanwhile.
  const results = await withOperation({ s, name: opts.name, verb: "schema" }, () =>
    runSteps(steps, (r) => {
      if (!opts.json) s.log(`${r.ok ? "ok    " : "FAILED"} ${r.name}: ${r.detail}`);
    }),
  );
  const failed = results.filter((r) => !r.ok);
  if (opts.json)
    s.out(jsonDoc("schema", { env: opts.name, steps: results, ok: failed.length === 0 }));
  else s.log(summary(results));
  return failed.length === 0 ? 0 : 1;
}

function summary(results: StepResult[]): string {
  const failed = results.filter((r) => !r.ok).length;
  return failed === 0
    ? `schema: all ${results.length} steps ok`
    : `schema: ${failed} of ${results.length} steps failed; fix the cause and run it again (each step is safe to repeat)`;
}

function sqlStep(
  env: ResolvedEnv,
  svc: ResolvedContainer,
  cluster: string,
  host: string,
  signal?: AbortSignal,
): SchemaStep {
  return {
    name: `${cluster} DSQL: Temporal schema`,
    run: async () => {
      if (tokensIn(host).length > 0) {
        throw new Error(
          `the env's AWS part has no endpoints yet: run \`envctl infra ${env.name} apply\` (or \`envctl up ${env.name}\`)`,
        );
      }
      if (!host) throw new Error(`no DSQL endpoint (${svc.name}'s TEMPORAL_SQL_HOST is empty)`);
      const target = {
        host,
        port: svc.env.TEMPORAL_SQL_PORT ?? "5432",
        user: svc.env.TEMPORAL_SQL_USER ?? "admin",
        database: svc.env.TEMPORAL_SQL_DATABASE ?? "postgres",
      };
      const script = sqlToolArgs(target, SCHEMA_DIR)
        .map((a) => a.map((x) => `'${x.replace(/'/g, `'\\''`)}'`).join(" "))
        .join(" && ");
      const out = await runOnce(env, svc, ["sh", "-c", script], signal);
      return `applied on ${host}${out ? ` (${out.split("\n").filter(Boolean).at(-1)})` : ""}`;
    },
  };
}

function indexStep(env: ResolvedEnv, svc: ResolvedContainer, cluster: string): SchemaStep {
  const index = svc.env.TEMPORAL_ELASTICSEARCH_INDEX ?? `temporal_visibility_v1_${cluster}`;
  return {
    name: `${cluster} Elasticsearch: visibility index ${index}`,
    run: async () => {
      const es = env.services.find((x) => x.name === "elasticsearch");
      const port = es?.ports.find((p) => p.container === 9200)?.host;
      if (!port) throw new Error("the env has no elasticsearch service publishing 9200");
      const url = `http://127.0.0.1:${port}`;
      const health = await fetch(`${url}/_cluster/health`, {
        signal: AbortSignal.timeout(10_000),
      }).catch((err: unknown) => {
        throw new Error(`Elasticsearch not reachable at ${url}: ${(err as Error).message}`);
      });
      const status = ((await health.json().catch(() => ({}))) as { status?: string }).status;
      if (!health.ok || (status !== "green" && status !== "yellow")) {
        throw new Error(
          `Elasticsearch at ${url} is not healthy (HTTP ${health.status}, status ${status ?? "?"})`,
        );
      }
      const put = await fetch(`${url}/${encodeURIComponent(index)}`, {
        method: "PUT",
        signal: AbortSignal.timeout(10_000),
      });
      if (put.ok) return `created on ${url}`;
      const body = await put.text();
      if (put.status === 400 && body.includes("resource_already_exists_exception"))
        return `exists on ${url}`;
      throw new Error(`PUT ${url}/${index}: HTTP ${put.status} ${body.slice(0, 200)}`);
    },
  };
}

/**
 * Runs `cmd` once in the service's image on the env's network, with the service's environment
 * and its read-only binds from outside the checkout (the ~/.aws mount). Rejects with the exit
 * code and the last lines of output.
 */
async function runOnce(
  env: ResolvedEnv,
  svc: ResolvedContainer,
  cmd: string[],
  signal?: AbortSignal,
): Promise<string> {
  const { docker, dockerFailure } = await import("../../lib/docker/client");
  const { demuxLogs } = await import("../../lib/docker/objects");
  const root = env.root ?? env.repo;
  const binds = svc.volumes
    .filter((v) => v.kind === "bind" && v.readOnly && !v.source.startsWith(root + path.sep))
    .map((v) => `${v.source}:${v.target}:ro`);
  const d = docker();
  let c;
  try {
    c = await d.createContainer({
      // An envctl name: destroy's sweep of the env's labelled leftovers knows it as the env's.
      name: `${containerName(env.name, "schema")}-${randomBytes(3).toString("hex")}`,
      Image: svc.image,
      Entrypoint: [],
      Cmd: cmd,
      Env: Object.entries(svc.env).map(([k, v]) => `${k}=${v}`),
      Labels: { "envctl.env": env.name, "envctl.job": "schema" },
      HostConfig: { NetworkMode: networkName(env.name), Binds: binds },
    });
  } catch (err) {
    throw dockerFailure(`running the schema tool in ${svc.image ?? svc.name}`, err);
  }
  // Ctrl-C: the tool's container goes at once (the finally below removes it).
  const kill = (): void => void c.kill().catch(() => undefined);
  signal?.addEventListener("abort", kill, { once: true });
  try {
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    const logs = demuxLogs(await c.logs({ stdout: true, stderr: true, follow: false })).trim();
    if (StatusCode !== 0) {
      const tail = logs.split("\n").slice(-5).join(" | ");
      throw new Error(`exit ${StatusCode}${tail ? `: ${tail}` : ""}`);
    }
    return logs;
  } finally {
    signal?.removeEventListener("abort", kill);
    await c.remove({ force: true }).catch(() => undefined);
  }
}
