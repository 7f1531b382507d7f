import * as fs from "node:fs";
import * as path from "node:path";
import {
  defaultSeams,
  doctorExitCode,
  runDoctor,
  type Check,
  type DoctorSeams,
} from "../../lib/doctor/checks";
import { colors, type Colors } from "../ui/color";
import { UserError } from "../../lib/core/errors";
import type { CopilotSpec, TemporalSpec } from "../../lib/spec/model";
import { checkAwsCredentials, checkAwsPlugin } from "../../lib/doctor/aws";
import { checkLinodePlugin, checkLinodeToken } from "../../lib/doctor/linode";
import { seams, type CommandSeams } from "../context";
import { loadSpec, specSource, type SpecSource } from "../../lib/spec/sources";
import { jsonDoc } from "../ui/output";

export interface DoctorOptions extends CommandSeams, SpecSource {
  json?: boolean;
  /** Colour the marks. @default from NO_COLOR, FORCE_COLOR and whether stdout is a terminal */
  color?: boolean;
  /** The runner, PATH, toolchain dir and Docker API the checks use (tests simulate tools). */
  checks?: Partial<DoctorSeams>;
}

/**
 * Checks what envctl needs on this machine and prints one row per check with the version found
 * or how to fix it. The Temporal rows appear when the spec (-f/--preset, or ./envctl.yaml when
 * present) has a `temporal` section. Exit 0 when every required check passes, 1 otherwise.
 */
export async function doctor(opts: DoctorOptions): Promise<number> {
  const s = seams(opts);
  const spec = specChecks(opts, s.cwd);
  const ds = { ...defaultSeams(), ...opts.checks };
  const checks = await runDoctor(ds, spec.temporal);
  // A copilot spec whose stack makes its AWS part: the provider plugin and credentials.
  const env = { ...process.env, PATH: [ds.toolchainBin, ds.pathVar].join(path.delimiter) };
  if (spec.copilot?.infra === "aws") checks.push(checkAwsPlugin(env), checkAwsCredentials(env));
  // A hivesync spec whose stack makes its Linode VM: the provider plugin and the API token.
  if (spec.linode) checks.push(checkLinodePlugin(env), checkLinodeToken(env));
  if (spec.problem) checks.push(spec.problem);
  const code = doctorExitCode(checks);
  if (opts.json) {
    s.out(jsonDoc("doctor", { ok: code === 0, checks: checks.map(jsonCheck) }));
  } else {
    s.out(report(checks, colors(opts.color)));
  }
  return code;
}

/** The spec's Temporal section, or a failed `spec` row when a spec was asked for and is invalid. */
function specChecks(
  opts: DoctorOptions,
  cwd: string,
): { temporal?: TemporalSpec; copilot?: CopilotSpec; linode?: boolean; problem?: Check } {
  const asked = opts.file !== undefined || opts.preset !== undefined;
  if (!asked && !fs.existsSync(path.join(cwd, "envctl.yaml"))) return {};
  try {
    const { spec } = loadSpec(specSource(opts), cwd);
    return {
      ...(spec.temporal ? { temporal: spec.temporal } : {}),
      ...(spec.copilot ? { copilot: spec.copilot } : {}),
      ...(spec.hivesync?.target === "linode" ? { linode: true } : {}),
    };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    const flags = [
      ...[opts.file ?? []].flat().map((f) => `-f ${f}`),
      ...(opts.preset ? [`--preset ${opts.preset}`] : []),
      ...(opts.format ? [`--format ${opts.format}`] : []),
    ].join(" ");
    return {
      problem: {
        name: "spec",
        ok: false,
        required: true,
        detail: `${err.message}${err.details.length === 1 ? `: ${err.details[0]}` : err.details.length > 1 ? ` (${err.details.length} problems)` : ""}; its Temporal section is not checked`,
        fix: `see every problem with: envctl validate${flags ? ` ${flags}` : ""}`,
      },
    };
  }
}

function jsonCheck(c: Check): Record<string, unknown> {
  return { name: c.name, ok: c.ok, required: c.required, detail: c.detail, fix: c.fix ?? null };
}

/** `✓ name  detail` rows; a failed row gets its fix on the next line. */
function report(checks: Check[], pc: Colors): string {
  const width = Math.max(...checks.map((c) => c.name.length)) + 2;
  const lines: string[] = [];
  for (const c of checks) {
    const mark = c.ok ? pc.green("✓") : c.required ? pc.red("✗") : pc.dim("-");
    const optional = !c.ok && !c.required ? " (optional)" : "";
    lines.push(`${mark} ${c.name.padEnd(width)}${c.detail}${optional}`);
    if (!c.ok && c.fix) lines.push(`  ${" ".repeat(width)}fix: ${c.fix}`);
  }
  const failed = checks.filter((c) => !c.ok && c.required).length;
  lines.push(
    failed === 0
      ? "all required checks pass"
      : `${failed} required check${failed === 1 ? "" : "s"} failed`,
  );
  return lines.join("\n");
}
