/**
 * Where a spec comes from: `-f` files (an envctl.yaml, or compose files, told apart by content)
 * or a preset shipped with envctl. Every issue is reported with its dot-path (exit 2).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { quote } from "../core/display";
import { badInput, UserError } from "../core/errors";
import { projectRoot } from "../core/toolchain";
import { A3SFILE } from "./a3s-name";
import { loadA3sfile } from "./a3sfile";
import { isSpecFormat, SPEC_FORMATS, specFormat, type SpecFormat } from "./format";
import { formatIssue, loadComposeFiles, loadSpecFile, type ParseResult } from "./load";
import type { EnvSpec, SpecIssue } from "./model";

/** Where a spec comes from: `-f` files (envctl.yaml, or compose files), or a named preset. */
export interface SpecSource {
  file?: string | string[];
  preset?: string;
  /** `compose` or `envctl`: how to read the `-f` files instead of telling by their content. */
  format?: string;
  /** Compose profiles to enable (`--profile`), besides COMPOSE_PROFILES. */
  profile?: string[];
}

/** Just the spec's source out of a command's options (which carry seams and flags too). */
export function specSource(o: SpecSource): SpecSource {
  return {
    file: o.file,
    preset: o.preset,
    format: o.format,
    ...(o.profile ? { profile: o.profile } : {}),
  };
}

/**
 * An invalid spec (exit 2): the first issue on the message line, so that line alone says which
 * field is wrong and why; one detail line per further issue; the issues themselves for --json.
 */
export class SpecError extends UserError {
  constructor(
    readonly file: string,
    readonly issues: SpecIssue[],
  ) {
    super(leadLine(file, issues[0]), 2, issues.slice(1).map(formatIssue));
    this.name = "SpecError";
  }
}

/**
 * The message line, the file named once: `invalid spec FILE[:LINE:COL]: path: message`, or
 * `cannot read spec FILE: why`.
 */
function leadLine(file: string, first: SpecIssue | undefined): string {
  if (!first) return `invalid spec ${file}`;
  // Issues from the spec file itself (a compose file names its own base name) read best as
  // `FILE:LINE: ...`; another file's (an override, an env file) keep their own name.
  if (first.file !== undefined && first.file !== path.basename(file)) {
    return `invalid spec ${file}: ${formatIssue(first)}`;
  }
  const text = formatIssue({ path: first.path, message: first.message });
  const unreadable = `cannot read ${file}: `;
  if (text.startsWith(unreadable)) {
    return `cannot read spec ${file}: ${text.slice(unreadable.length)}`;
  }
  if (text.startsWith(`${file}:`)) return `invalid spec ${text}`;
  const where = [file, first.line, first.column].filter((x) => x !== undefined).join(":");
  return `invalid spec ${where}: ${text}`;
}

/** The presets shipped with envctl (directories holding an envctl.yaml). */
export function presetNames(): string[] {
  const dir = path.join(projectRoot(), "presets");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((d) => fs.existsSync(path.join(dir, d, "envctl.yaml")))
    .sort();
}

/**
 * Loads and validates a spec; every issue is reported with its dot-path (exit 2). Each `-f` file
 * is read as compose or envctl.yaml by its content (format.ts) unless `format` says; several
 * files are compose files merged in order. A preset's repo is the git repository envctl runs in.
 */
export function loadSpec(
  source: SpecSource | string | undefined,
  cwd: string,
): { spec: EnvSpec; file: string; warnings: SpecIssue[] } {
  const src: SpecSource =
    typeof source === "string" || source === undefined ? { file: source } : source;
  const files = src.file === undefined ? [] : Array.isArray(src.file) ? src.file : [src.file];
  const format = src.format === undefined ? undefined : checkFormat(src.format);
  let res: ParseResult;
  let specFile: string;
  if (src.preset !== undefined) {
    if (files.length > 0) throw badInput("--preset and -f are exclusive: pick one");
    if (format !== undefined) throw badInput("--format is for -f files, not presets");
    if (!presetNames().includes(src.preset)) {
      throw badInput(`unknown preset ${quote(src.preset)}`, [
        `presets: ${presetNames().join(", ")}`,
      ]);
    }
    specFile = path.join(projectRoot(), "presets", src.preset, "envctl.yaml");
    res = loadSpecFile(specFile, { repo: cwd, ...(src.profile ? { profiles: src.profile } : {}) });
  } else {
    const abs =
      files.length > 0
        ? files.map((f) => path.resolve(cwd, f))
        : [path.resolve(cwd, "envctl.yaml")];
    // An a3s repo has its A3sfile.hcl where envctl.yaml would be.
    if (files.length === 0 && !fs.existsSync(abs[0]!) && fs.existsSync(path.join(cwd, A3SFILE))) {
      abs[0] = path.join(cwd, A3SFILE);
    }
    if (files.length === 0 && !fs.existsSync(abs[0]!)) {
      throw badInput(
        `no envctl.yaml (or ${A3SFILE}) in ${cwd}: run envctl where the spec is, or pass -f SPEC`,
      );
    }
    // envctl.yaml is always one file, so several are compose files unless one clearly is not.
    const fallback = abs.length > 1 ? "compose" : "envctl";
    const formats = abs.map((f) => format ?? specFormat(f, fallback));
    const odd = formats.indexOf("envctl");
    if (abs.length > 1 && (format === "envctl" || format === "a3s")) {
      throw badInput(`--format ${format} reads one file; several -f files are compose files`);
    }
    if (abs.length > 1 && formats.includes("a3s")) {
      throw badInput(
        `an A3sfile is the whole spec: pass it alone (-f ${files[formats.indexOf("a3s")]})`,
      );
    }
    if (abs.length > 1 && odd >= 0) {
      throw badInput(
        `several -f files must all be compose files; ${files[odd]} reads as an envctl.yaml`,
        ["pass --format compose to read it as compose anyway"],
      );
    }
    specFile = abs[0]!;
    const profiles = src.profile ? { profiles: src.profile } : {};
    res =
      formats[0] === "compose"
        ? loadComposeFiles(abs, profiles)
        : formats[0] === "a3s"
          ? loadA3sfile(specFile)
          : loadSpecFile(specFile, profiles);
  }
  if (res.errors.length > 0 || !res.spec) throw new SpecError(specFile, res.errors);
  return { spec: res.spec, file: specFile, warnings: res.warnings };
}

function checkFormat(format: string): SpecFormat {
  if (isSpecFormat(format)) return format;
  const quoted = SPEC_FORMATS.map((f) => `"${f}"`);
  const names = `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
  throw badInput(`--format must be ${names}, got ${quote(format)}`);
}
