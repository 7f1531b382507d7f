/**
 * Where a spec comes from: `-f` files (an envctl.yaml, or compose files) or a preset shipped
 * with envctl. Every issue is reported with its dot-path (exit 2).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { badInput, UserError } from "../core/errors";
import { projectRoot } from "../core/toolchain";
import { isComposeFile } from "./compose";
import { formatIssue, loadComposeFiles, loadSpecFile, type ParseResult } from "./load";
import type { EnvSpec, SpecIssue } from "./model";

/** Where a spec comes from: `-f` files (envctl.yaml, or compose files), or a named preset. */
export interface SpecSource {
  file?: string | string[];
  preset?: string;
}

/** An invalid spec (exit 2): one detail line per issue, and the issues themselves for --json. */
export class SpecError extends UserError {
  constructor(
    file: string,
    readonly issues: SpecIssue[],
  ) {
    super(`invalid spec ${file}`, 2, issues.map(formatIssue));
    this.name = "SpecError";
  }
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
 * Loads and validates a spec; every issue is reported with its dot-path (exit 2). Compose files
 * (one or several `-f`) are imported; a preset's repo is the git repository envctl runs in.
 */
export function loadSpec(
  source: SpecSource | string | undefined,
  cwd: string,
): { spec: EnvSpec; file: string; warnings: SpecIssue[] } {
  const src: SpecSource =
    typeof source === "string" || source === undefined ? { file: source } : source;
  const files = src.file === undefined ? [] : Array.isArray(src.file) ? src.file : [src.file];
  let res: ParseResult;
  let specFile: string;
  if (src.preset !== undefined) {
    if (files.length > 0) throw badInput("--preset and -f are exclusive: pick one");
    if (!presetNames().includes(src.preset)) {
      throw badInput(`unknown preset "${src.preset}"`, [`presets: ${presetNames().join(", ")}`]);
    }
    specFile = path.join(projectRoot(), "presets", src.preset, "envctl.yaml");
    res = loadSpecFile(specFile);
    if (res.spec) res.spec.repo = cwd;
  } else if (files.length > 1 || (files.length === 1 && isComposeFile(files[0]!))) {
    const abs = files.map((f) => path.resolve(cwd, f));
    if (!abs.every(isComposeFile) && abs.length > 1) {
      throw badInput(
        "several -f files must all be compose files (docker-compose.yml, compose.override.yml, ...)",
      );
    }
    specFile = abs[0]!;
    res = loadComposeFiles(abs);
  } else {
    specFile = path.resolve(cwd, files[0] ?? "envctl.yaml");
    if (files.length === 0 && !fs.existsSync(specFile)) {
      throw badInput(`no envctl.yaml in ${cwd}: run envctl where the spec is, or pass -f SPEC`);
    }
    res = loadSpecFile(specFile);
  }
  if (res.errors.length > 0 || !res.spec) {
    throw new SpecError(specFile, res.errors);
  }
  return { spec: res.spec, file: specFile, warnings: res.warnings };
}
