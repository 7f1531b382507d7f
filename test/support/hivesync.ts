/**
 * A HiveSync checkout as an operator has one: the preset at the repository's root (compose file,
 * env template, sample backend), committed, with `.env` made from the template (untracked, as
 * .gitignore says). No registry is reachable here, so the public postgres:16 and redis:7 images
 * are built from debian:bookworm through an override file (test/fixtures/hivesync-standins).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "./env";

export const HIVESYNC_PRESET = path.join(ROOT, "presets", "hivesync");
export const HIVESYNC_STANDINS = path.join(ROOT, "test", "fixtures", "hivesync-standins");

/** The secrets a test's .env sets (each one long and unique, so a grep finds any leak). */
export const TEST_SECRETS: Record<string, string> = {
  JWT_SECRET: "jwt-4d1f0c9e-secret-value-for-tests",
  POSTGRES_PASSWORD: "pg-93a7c2b1-password-for-tests",
  RESEND_API_KEY: "re-5b8e11aa-resend-key-for-tests",
  OPENAI_API_KEY: "sk-0a6f73d2-openai-key-for-tests",
  OBJECT_STORAGE_SECRET_KEY: "os-77c1e9b4-object-secret-for-tests",
};

/** The env template with `values` put in (other placeholders left as REPLACE_ME). */
export function dotenvFrom(values: Record<string, string> = TEST_SECRETS): string {
  let text = fs.readFileSync(
    path.join(HIVESYNC_PRESET, "env_templates", "backend.env.example"),
    "utf8",
  );
  for (const [k, v] of Object.entries(values)) {
    text = text.replace(new RegExp(`^${k}=.*$`, "m"), `${k}=${v}`);
  }
  return text;
}

export interface HivesyncWorkspace {
  repo: string;
  /** envctl.yaml with the stand-ins override. */
  spec: string;
}

/**
 * `root/hivesync`: the preset, the stand-ins as standins/, `.env` (`dotenv`), and an envctl.yaml
 * that also reads the override; `hivesync` is merged into the spec's hivesync block.
 */
export function makeHivesyncWorkspace(
  root: string,
  opts: {
    dotenv?: string;
    hivesync?: Record<string, unknown>;
    services?: Record<string, unknown>;
    name?: string;
  } = {},
): HivesyncWorkspace {
  const repo = path.join(root, opts.name ?? "hivesync");
  fs.cpSync(HIVESYNC_PRESET, repo, { recursive: true });
  fs.cpSync(HIVESYNC_STANDINS, path.join(repo, "standins"), { recursive: true });
  fs.writeFileSync(path.join(repo, ".env"), opts.dotenv ?? dotenvFrom());
  const spec = path.join(repo, "envctl.yaml");
  writeSpec(spec, opts.hivesync ?? {}, opts.services);
  const git = (...args: string[]): void => void execFileSync("git", args, { cwd: repo });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "init");
  return { repo, spec };
}

/** Rewrites the workspace's envctl.yaml with `hivesync` merged into the preset's block. */
export function writeSpec(
  spec: string,
  hivesync: Record<string, unknown>,
  services?: Record<string, unknown>,
): void {
  const preset = fs.readFileSync(path.join(HIVESYNC_PRESET, "envctl.yaml"), "utf8");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const YAML = require("yaml") as typeof import("yaml");
  const doc = YAML.parse(preset) as Record<string, unknown>;
  doc.compose = ["docker-compose.yml", "standins/docker-compose.standins.yml"];
  doc.hivesync = { ...(doc.hivesync as object), ...hivesync };
  if (services) doc.services = services;
  fs.writeFileSync(spec, YAML.stringify(doc));
}

/** The proxy's stand-in image (Debian's Caddy), built once per machine. */
export const CADDY_STANDIN = "envctl-standin/caddy:1";

export function buildCaddyStandin(): void {
  execFileSync(
    "docker",
    ["build", "-q", "-t", CADDY_STANDIN, path.join(HIVESYNC_STANDINS, "caddy")],
    {
      stdio: "ignore",
    },
  );
}
