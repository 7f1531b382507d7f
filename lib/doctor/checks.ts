/**
 * `envctl doctor`'s checks: git, the Docker engine, the Pulumi toolchain envctl drives, the base
 * image, zellij and, for a spec with a `temporal` section, the Temporal CLI, server and search
 * attributes. Each check is a function of injected seams (a command runner, a Docker API) so
 * tests can simulate present and missing tools; none of them changes anything.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DockerError, docker, dockerReason, isConnectionFailure, statusOf } from "../docker/client";
import type { TemporalSpec } from "../spec/model";
import { checkTemporal } from "./temporal";
import { firstLine, runCommand, type Check, type Runner } from "./types";

export * from "./types";
export { checkTemporal, parseSearchAttributes, sameAttributeType } from "./temporal";
import { projectRoot, toolchainRoot } from "../core/toolchain";
import { findOnPath } from "../core/toolchain";
import { isExecutableFile } from "../spec/commands";
import { findCompose } from "../spec/compose/reference";

/** The part of the Docker API doctor uses. */
export interface DockerApi {
  /** Where the engine is expected (socket path or DOCKER_HOST). */
  where: string;
  ping(): Promise<unknown>;
  version(): Promise<{ Version?: string }>;
  hasImage(ref: string): Promise<boolean>;
}

const DOCKER_TIMEOUT_MS = 5000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // ETIMEDOUT: no answer at all counts as not reachable (lib/docker/client.ts isConnectionFailure).
    const err = Object.assign(new Error(`${what} did not answer within ${ms} ms`), {
      code: "ETIMEDOUT",
    });
    timer = setTimeout(() => reject(err), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The shared dockerode client as a DockerApi, made on first call: a DOCKER_HOST that is not a
 * Docker endpoint fails the check with its own message instead of failing doctor.
 */
export function dockerApi(): DockerApi {
  return {
    where: process.env.DOCKER_HOST ?? "/var/run/docker.sock",
    ping: async (): Promise<unknown> =>
      withTimeout<unknown>(docker().ping(), DOCKER_TIMEOUT_MS, "the Docker engine"),
    version: async () => withTimeout(docker().version(), DOCKER_TIMEOUT_MS, "the Docker engine"),
    hasImage: async (ref) => {
      try {
        await withTimeout(docker().getImage(ref).inspect(), DOCKER_TIMEOUT_MS, "the Docker engine");
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw err;
      }
    },
  };
}

export interface DoctorSeams {
  run: Runner;
  /** PATH tools are looked up on. */
  pathVar: string;
  /** `.toolchain/bin` of the envctl installation, where scripts/setup puts pulumi and its plugins. */
  toolchainBin: string;
  /** The @pulumi/pulumi version package.json pins: the CLI should report the same. */
  pulumiVersion?: string;
  docker: DockerApi;
  /** Where Docker Compose is (tests simulate a missing one). @default findCompose */
  findCompose?: () => string | undefined;
}

export function defaultSeams(): DoctorSeams {
  const root = projectRoot();
  let pulumiVersion: string | undefined;
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    pulumiVersion = pkg.dependencies?.["@pulumi/pulumi"];
  } catch {
    pulumiVersion = undefined;
  }
  return {
    run: runCommand,
    pathVar: process.env.PATH ?? "",
    toolchainBin: path.join(toolchainRoot(root), "bin"),
    ...(pulumiVersion ? { pulumiVersion } : {}),
    docker: dockerApi(),
  };
}

export async function checkGit(run: Runner): Promise<Check> {
  const r = await run("git", ["--version"]);
  const version = /git version (\S+)/.exec(r.stdout)?.[1];
  if (r.code === 0 && version) return { name: "git", ok: true, required: true, detail: version };
  return {
    name: "git",
    ok: false,
    required: true,
    detail: r.notFound ? "not found on PATH" : `git --version failed: ${firstLine(r.stderr)}`,
    fix: "install git (apt-get install git)",
  };
}

const DOCKER_FIX = "start it: dockerd & / systemctl start docker (or: bash scripts/setup docker)";

export async function checkDocker(api: DockerApi): Promise<Check> {
  const name = "docker engine";
  try {
    await api.ping();
    const v = await api.version();
    return { name, ok: true, required: true, detail: `${v.Version ?? "?"} (${api.where})` };
  } catch (err) {
    if (isConnectionFailure(err)) {
      return {
        name,
        ok: false,
        required: true,
        detail: `not reachable at ${api.where}: ${dockerReason(err)}`,
        fix: DOCKER_FIX,
      };
    }
    // Reached but failing, or not an endpoint at all: the engine's (or the setting's) own words.
    const status = statusOf(err);
    return {
      name,
      ok: false,
      required: true,
      detail: `${api.where}: ${status ? `the engine answered HTTP ${status}: ` : ""}${dockerReason(err)}`,
      fix:
        err instanceof DockerError && status === undefined
          ? "set DOCKER_HOST to unix:///PATH, tcp://HOST:PORT or ssh://USER@HOST, or unset it"
          : "see the Docker engine's log (journalctl -u docker, or dockerd's output)",
    };
  }
}

export const BASE_IMAGE = "debian:bookworm";

/** Optional: only envctl's tests and the demo build FROM it. */
export async function checkBaseImage(api: DockerApi, dockerOk: boolean): Promise<Check> {
  const name = `base image ${BASE_IMAGE}`;
  const fix = "bash scripts/setup image (only tests and the demo need it)";
  if (!dockerOk) {
    return {
      name,
      ok: false,
      required: false,
      detail: "not checked: the Docker engine check failed",
      fix,
    };
  }
  try {
    if (await api.hasImage(BASE_IMAGE))
      return { name, ok: true, required: false, detail: "present" };
    return { name, ok: false, required: false, detail: "not present", fix };
  } catch (err) {
    return { name, ok: false, required: false, detail: dockerReason(err), fix };
  }
}

const TOOLCHAIN_FIX = "bash scripts/setup toolchain";

/**
 * The pulumi CLI envctl drives (`.toolchain/bin/pulumi`, else the one on PATH, as
 * lib/engine/automation.ts picks it), the nodejs language host it starts programs with, and the
 * launcher of dynamic providers. Plugins are found in the toolchain dir, beside the CLI, or on PATH.
 */
export async function checkPulumi(s: DoctorSeams): Promise<Check[]> {
  const local = path.join(s.toolchainBin, "pulumi");
  const cli = isExecutableFile(local) ? local : findOnPath("pulumi", s.pathVar);
  const checks: Check[] = [];
  if (!cli) {
    checks.push({
      name: "pulumi CLI",
      ok: false,
      required: true,
      detail: `not installed (no ${local}, none on PATH)`,
      fix: TOOLCHAIN_FIX,
    });
  } else {
    const r = await s.run(cli, ["version"], {
      timeoutMs: 30_000,
      env: { PULUMI_SKIP_UPDATE_CHECK: "true" },
    });
    const version = firstLine(r.stdout);
    if (r.code !== 0 || !/^v?\d+\.\d+\.\d+/.test(version)) {
      checks.push({
        name: "pulumi CLI",
        ok: false,
        required: true,
        detail:
          r.code !== 0
            ? `${cli} version failed: ${firstLine(r.stderr)}`
            : `${cli} reports no version (the Automation API refuses it)`,
        fix: TOOLCHAIN_FIX,
      });
    } else {
      const want = s.pulumiVersion && `v${s.pulumiVersion.replace(/^v/, "")}`;
      const note = want && version !== want ? `; envctl pins ${want}` : "";
      checks.push({
        name: "pulumi CLI",
        ok: true,
        required: true,
        detail: `${version} (${cli})${note}`,
      });
    }
  }
  const dirs = [s.toolchainBin, ...(cli ? [path.dirname(fs.realpathSync(cli))] : [])];
  const plugin = (name: string, bin: string): Check => {
    const found =
      dirs.map((d) => path.join(d, bin)).find(isExecutableFile) ?? findOnPath(bin, s.pathVar);
    return found
      ? { name, ok: true, required: true, detail: found }
      : {
          name,
          ok: false,
          required: true,
          detail: `${bin} not found (in ${s.toolchainBin}, beside pulumi, or on PATH)`,
          fix: TOOLCHAIN_FIX,
        };
  };
  checks.push(plugin("nodejs language host", "pulumi-language-nodejs"));
  checks.push(plugin("dynamic provider launcher", "pulumi-resource-pulumi-nodejs"));
  return checks;
}

export async function checkZellij(run: Runner): Promise<Check> {
  const r = await run("zellij", ["--version"]);
  if (r.code === 0) {
    const version = /(\d+\.\d+\.\d+\S*)/.exec(r.stdout)?.[1] ?? firstLine(r.stdout);
    return { name: "zellij", ok: true, required: false, detail: version };
  }
  return {
    name: "zellij",
    ok: false,
    required: false,
    detail: r.notFound ? "not installed" : `zellij --version failed: ${firstLine(r.stderr)}`,
    fix: "install from https://zellij.dev; envctl open falls back to a shell",
  };
}

/** Docker Compose v2, which reads compose files for envctl (lib/spec/compose/reference.ts). */
export async function checkCompose(run: Runner, find = findCompose): Promise<Check> {
  const bin = find();
  const name = "docker compose";
  const fix = "bash scripts/setup compose (builds it), or install Docker's compose plugin";
  if (!bin)
    return {
      name,
      ok: false,
      required: false,
      detail: "not found (needed for compose files)",
      fix,
    };
  const r = await run(bin, ["version", "--short"]);
  const version = r.stdout.trim();
  if (r.code === 0 && /^v?2\./.test(version))
    return { name, ok: true, required: false, detail: `${version} (${bin})` };
  return {
    name,
    ok: false,
    required: false,
    detail:
      r.code === 0
        ? `${bin} is version ${version || "?"}; envctl needs v2`
        : `${bin} version failed: ${firstLine(r.stderr)}`,
    fix,
  };
}

// ---------------------------------------------------------------------------------------------

/** Every check, in report order; the independent ones run at once. */
export async function runDoctor(s: DoctorSeams, temporal?: TemporalSpec): Promise<Check[]> {
  const [git, dockerCheck, pulumi, compose, zellij, temporalChecks] = await Promise.all([
    checkGit(s.run),
    checkDocker(s.docker),
    checkPulumi(s),
    checkCompose(s.run, s.findCompose),
    checkZellij(s.run),
    temporal ? checkTemporal(s.run, temporal) : Promise.resolve([]),
  ]);
  const image = await checkBaseImage(s.docker, dockerCheck.ok);
  return [git, dockerCheck, ...pulumi, compose, image, zellij, ...temporalChecks];
}

/** 0 when every required check passes, 1 otherwise. */
export function doctorExitCode(checks: Check[]): number {
  return checks.every((c) => c.ok || !c.required) ? 0 : 1;
}
