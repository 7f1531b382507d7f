/** A resolved copilot env for the program's mock tests (copilot-stack*.test.ts). */
import type { ResolvedContainer, ResolvedEnv } from "../../lib/spec/model";

const container = (name: string, env: Record<string, string>): ResolvedContainer => ({
  name,
  type: "container",
  image: `${name}:test`,
  env,
  ports: [],
  volumes: [],
  dependsOn: [],
  cold: false,
});

export function copilotEnv(infra: "aws" | "none"): ResolvedEnv {
  return {
    schemaVersion: 2,
    name: "cp",
    kind: "copilot",
    home: "/home/dev/.envctl",
    block: 1,
    base: 11000,
    repo: "/src/copilot",
    baseRef: "main",
    branch: "cp-workspace",
    worktreeDir: "/home/dev/.envctl/worktrees/cp",
    state: "warm",
    stateDir: "/home/dev/.envctl/envs/cp",
    services: [
      container("temporal-history", {
        TEMPORAL_SQL_HOST: infra === "none" ? "from-dotenv.dsql.eu-west-1.on.aws" : "",
        TEMPORAL_SQL_AWS_REGION: "eu-west-1",
        AWS_REGION: "eu-west-1",
        TEMPORAL_HISTORY_SHARDS: "4",
      }),
      container("copilot-api", { COPILOT_DSQL_HOST: "", COPILOT_KNOWLEDGE_BASE_ID: "" }),
      container("grafana", { GF_AUTH_ANONYMOUS_ENABLED: "true" }),
    ],
    envSh: "",
    init: [],
    initAfter: [],
    copilot: { infra, prefix: "copilot-cp", region: "us-east-2" },
  };
}
