/**
 * A copilot workspace as a user has one, for the e2e test and the bench: a repository with the
 * stand-in copilot root (its Dockerfile) and the preset copied in as dev/, committed, and a
 * temporal-dsql checkout beside it (the stand-in repository `envctl build` builds the base from).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "./env";

export const STANDINS = path.join(ROOT, "test", "fixtures", "copilot-standins");
export const PRESET = path.join(ROOT, "presets", "copilot");

/**
 * The stand-ins override plus DSQL endpoints that nothing answers (infra off: .env names them;
 * schema setup must report them unreachable).
 */
export function standinDotenv(): string {
  return [
    fs.readFileSync(path.join(STANDINS, "standins.env"), "utf8"),
    "TEMPORAL_SQL_HOST=monitored.dsql.invalid",
    "COPILOT_DSQL_HOST=copilot.dsql.invalid",
    "",
  ].join("\n");
}

/** `root/temporal-sre-copilot` (returned) and `root/temporal-dsql`. */
export function makeCopilotWorkspace(
  root: string,
  opts: { infra: "aws" | "none"; dotenv?: string },
): string {
  const repo = path.join(root, "temporal-sre-copilot");
  fs.cpSync(path.join(STANDINS, "copilot"), repo, { recursive: true });
  fs.cpSync(PRESET, path.join(repo, "dev"), { recursive: true });
  const spec = path.join(repo, "dev", "envctl.yaml");
  fs.writeFileSync(
    spec,
    fs.readFileSync(spec, "utf8").replace(/^ {2}infra: aws$/m, `  infra: ${opts.infra}`),
  );
  if (opts.dotenv !== undefined) fs.writeFileSync(path.join(repo, "dev", ".env"), opts.dotenv);
  const dsql = path.join(root, "temporal-dsql");
  if (!fs.existsSync(dsql))
    fs.cpSync(path.join(STANDINS, "temporal-dsql"), dsql, { recursive: true });
  const git = (...args: string[]): void => void execFileSync("git", args, { cwd: repo });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "init");
  return repo;
}
