/**
 * `envctl backup NAME`, `envctl restore NAME FILE`, `envctl export NAME`: the env's Postgres
 * (the service marked `backup: postgres`, or a hivesync env's health.postgres) dumped with its
 * config and metadata into one archive under `$ENVCTL_HOME/backups/NAME/`; restored only from
 * an archive that checks out whole, with the services that use the database stopped meanwhile
 * and the health check run after.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  archivePath,
  DUMP,
  readArchive,
  writeArchive,
  type Manifest,
} from "../../lib/backup/archive";
import {
  pgCheckDump,
  pgDump,
  pgIdentity,
  pgRestore,
  type PgTarget,
} from "../../lib/backup/postgres";
import { UserError, badInput } from "../../lib/core/errors";
import { containerName } from "../../lib/core/names";
import { docker } from "../../lib/docker/client";
import { inspectContainer } from "../../lib/docker/inspect";
import { STATUS_EXIT, waitHealthy } from "../../lib/health/hivesync";
import type { ResolvedEnv } from "../../lib/spec/model";
import { checkName, envRecord, seams, type CommandSeams } from "../context";
import { withOperation, type OperationFlags } from "../operation";
import { jsonDoc } from "../ui/output";
import { healthLines } from "./status";

export interface BackupOptions extends CommandSeams, OperationFlags {
  name: string;
  json?: boolean;
}

interface Source {
  env: ResolvedEnv;
  service: string;
  target: PgTarget;
  /** Docker name of each service's container, as the last deploy recorded it. */
  containers: Record<string, string>;
}

function source(
  s: ReturnType<typeof seams>,
  name: string,
  verb: "backup" | "restore" | "export",
): Source {
  const record = envRecord(s.home, name, verb);
  const env = record.resolved;
  if (!env) throw badInput(`env ${name} has no recorded spec: run \`envctl up ${name}\``);
  const marked = env.services.find((svc) => svc.type === "container" && svc.backup === "postgres");
  const service = marked?.name ?? env.hivesync?.health.postgres;
  if (!service) {
    throw badInput(`env ${name} has no Postgres to ${verb}`, [
      "mark its Postgres service with `backup: postgres` in envctl.yaml",
    ]);
  }
  const recorded = (record.outputs?.services ?? {}) as Record<string, { container?: string }>;
  const containers = Object.fromEntries(
    env.services.map((svc) => [
      svc.name,
      recorded[svc.name]?.container ?? containerName(name, svc.name),
    ]),
  );
  return {
    env,
    service,
    target: {
      container: containers[service]!,
      ...(env.dockerHost ? { host: env.dockerHost } : {}),
    },
    containers,
  };
}

async function requireRunning(src: Source): Promise<void> {
  const info = await inspectContainer(src.target.container, src.target.host);
  if (!info?.running) {
    throw new UserError(`${src.service} of env ${src.env.name} is not running`, 1, [
      `start it with \`envctl warm ${src.env.name}\`, then try again`,
    ]);
  }
}

function revisionOf(env: ResolvedEnv): string | undefined {
  try {
    return execFileSync("git", ["-C", env.worktreeDir, "rev-parse", "HEAD"], {
      encoding: "utf8",
    }).trim();
  } catch {
    return undefined;
  }
}

async function imagesOf(src: Source): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const svc of src.env.services) {
    if (svc.type !== "container") continue;
    const info = (await docker(src.target.host)
      .getContainer(src.containers[svc.name]!)
      .inspect()
      .catch(() => undefined)) as { Image?: string } | undefined;
    if (info?.Image) out[svc.name] = info.Image;
  }
  return out;
}

/** The service whose container mounts /data (the app's files), if one runs. */
function dataService(src: Source): string | undefined {
  return src.env.services.find(
    (svc) =>
      svc.type === "container" &&
      svc.volumes.some((v) => v.target === "/data") &&
      svc.name !== src.service,
  )?.name;
}

async function pack(
  s: ReturnType<typeof seams>,
  opts: BackupOptions,
  type: Manifest["type"],
): Promise<string> {
  const src = source(s, opts.name, type);
  await requireRunning(src);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `envctl-${type}-`));
  try {
    fs.writeFileSync(path.join(dir, DUMP), await pgDump(src.target), { mode: 0o600 });
    const settings = path.join(s.home.projectDir, `Pulumi.${opts.name}.yaml`);
    if (fs.existsSync(settings)) fs.copyFileSync(settings, path.join(dir, "stack-settings.yaml"));
    fs.writeFileSync(path.join(dir, "env.json"), `${JSON.stringify(src.env, null, 2)}\n`, {
      mode: 0o600,
    });
    if (type === "export") {
      const svc = dataService(src);
      if (svc) {
        const stream = await docker(src.target.host)
          .getContainer(src.containers[svc]!)
          .getArchive({ path: "/data" });
        await new Promise<void>((resolve, reject) => {
          const out = fs.createWriteStream(path.join(dir, "data.tar"), { mode: 0o600 });
          stream.pipe(out).on("finish", resolve).on("error", reject);
          stream.on("error", reject);
        });
      }
      try {
        execFileSync(
          "git",
          ["-C", src.env.worktreeDir, "bundle", "create", path.join(dir, "code.bundle"), "HEAD"],
          {
            stdio: "ignore",
          },
        );
      } catch {
        s.log(
          `warning: the env's checkout ${src.env.worktreeDir} could not be bundled; the export has no code`,
        );
      }
    }
    const revision = revisionOf(src.env);
    const file = archivePath(path.join(s.home.root, "backups"), opts.name, type);
    const manifest = await writeArchive(
      dir,
      {
        type,
        env: opts.name,
        kind: src.env.kind,
        createdAt: new Date().toISOString(),
        ...(revision ? { revision } : {}),
        images: await imagesOf(src),
        database: { service: src.service, ...(await pgIdentity(src.target)) },
      },
      file,
    );
    const bytes = fs.statSync(file).size;
    if (opts.json) {
      s.out(jsonDoc(type, { env: opts.name, file, bytes, manifest }));
    } else {
      s.out(file);
      s.log(
        `${type} of ${opts.name}: ${Object.keys(manifest.files).join(", ")} (${(bytes / 1e6).toFixed(1)} MB, database ${manifest.database.db} of ${src.service})`,
      );
    }
    return file;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function backup(opts: BackupOptions): Promise<string> {
  const s = seams(opts);
  checkName(opts.name);
  return pack(s, opts, "backup");
}

export function exportEnv(opts: BackupOptions): Promise<string> {
  const s = seams(opts);
  checkName(opts.name);
  return pack(s, opts, "export");
}

/** Services that use `service` (depend on it, directly or through others), in start order. */
export function dependentsOf(env: ResolvedEnv, service: string): string[] {
  const users = new Set<string>();
  for (let grew = true; grew;) {
    grew = false;
    for (const svc of env.services) {
      if (users.has(svc.name) || svc.name === service) continue;
      if (svc.dependsOn.some((d) => d === service || users.has(d))) {
        users.add(svc.name);
        grew = true;
      }
    }
  }
  // The proxy keeps answering (its upstream is away for the restore); one-off containers (that
  // others wait on to complete) stay done.
  const oneOff = new Set(
    env.services.flatMap((svc) =>
      Object.entries(svc.conditions ?? {})
        .filter(([, c]) => c === "completed")
        .map(([n]) => n),
    ),
  );
  return env.services
    .filter((svc) => users.has(svc.name) && svc.name !== "proxy" && !oneOff.has(svc.name))
    .map((svc) => svc.name);
}

export interface RestoreOptions extends BackupOptions {
  file: string;
}

/** Returns the exit code: the health check's (0 ok, 3 degraded, 1 fail), 0 without one. */
export async function restore(opts: RestoreOptions): Promise<number> {
  const s = seams(opts);
  checkName(opts.name);
  const file = path.resolve(s.cwd, opts.file);
  return withOperation(
    { s, name: opts.name, verb: "restore", wait: opts.wait, waitTimeout: opts.waitTimeout },
    async () => {
      const src = source(s, opts.name, "restore");
      await requireRunning(src);
      const { dir, manifest } = await readArchive(file, opts.name);
      try {
        const dump = fs.readFileSync(path.join(dir, DUMP));
        const problem = await pgCheckDump(src.target, dump);
        if (problem) {
          throw new UserError(`${file}: pg_restore cannot read its dump: ${problem}`, 1, [
            "nothing was restored; the database is as it was",
          ]);
        }
        const running: string[] = [];
        for (const svc of dependentsOf(src.env, src.service)) {
          const info = await inspectContainer(src.containers[svc]!, src.target.host);
          if (info?.running) running.push(svc);
        }
        if (!opts.json) s.log(`stopping ${running.join(", ") || "nothing"} for the restore`);
        for (const svc of [...running].reverse()) {
          await docker(src.target.host)
            .getContainer(src.containers[svc]!)
            .stop({ t: 10 })
            .catch(() => undefined);
        }
        try {
          await pgRestore(src.target, dump);
        } finally {
          for (const svc of running) {
            await docker(src.target.host)
              .getContainer(src.containers[svc]!)
              .start()
              .catch(() => undefined);
          }
        }
        const health = src.env.hivesync
          ? await waitHealthy(opts.name, src.env.hivesync.health, src.env.dockerHost)
          : undefined;
        const code = health ? STATUS_EXIT[health.status] : 0;
        if (opts.json) {
          s.out(
            jsonDoc("restore", {
              env: opts.name,
              file,
              from: manifest.createdAt,
              restarted: running,
              ...(health ? { health } : {}),
            }),
          );
        } else {
          s.log(
            `restored ${manifest.database.db} of ${opts.name} from ${manifest.createdAt} (${file}); restarted ${running.join(", ") || "nothing"}`,
          );
          if (health) s.out(healthLines(health).join("\n"));
        }
        return code;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}
