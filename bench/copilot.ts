/**
 * The copilot preset's 15 services (the stand-in images of test/fixtures/copilot-standins; no
 * registry is reachable here): `envctl up NAME` of a new env (infra off, images prebuilt) against
 * `docker compose up -d --wait` on the same compose file, .env and images, in the same run. Each
 * round's teardown (`envctl destroy`, `docker compose down -v`) is not timed.
 *
 *   npm run bench:copilot -- --rounds 3
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeCopilotWorkspace, standinDotenv, STANDINS } from "../test/support/copilot";
import { tempDir, tempHome } from "../test/support/env";
import {
  benchEnv,
  catalogEnvNames,
  destroyEnv,
  ENVCTL,
  log,
  reserveLowBlocks,
  result,
  run,
  runAloneWithRounds,
  timeSides,
  withCleanup,
  type BenchResult,
  type Side,
} from "./support";

const PROJECT = "bcop-compose";

export async function copilotBench(opts: { rounds?: number } = {}): Promise<BenchResult[]> {
  const rounds = opts.rounds ?? 3;
  const home = tempHome();
  const root = tempDir("bench-copilot");
  const userHome = path.join(root, "home");
  fs.mkdirSync(path.join(userHome, ".aws"), { recursive: true });
  const env = {
    ...benchEnv(home),
    HOME: userHome,
    DOCKER_CONFIG: process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"),
  };
  const repo = makeCopilotWorkspace(root, { infra: "none", dotenv: standinDotenv() });
  const dev = path.join(repo, "dev");
  const compose = (...args: string[]) => ({
    label: `docker compose ${args[0]}`,
    file: "docker",
    args: ["compose", "-p", PROJECT, "-f", path.join(dev, "docker-compose.yml"), ...args],
    cwd: dev,
    env,
  });
  const envctl = (...args: string[]) => ({
    label: `envctl ${args[0]}`,
    file: ENVCTL,
    args,
    cwd: repo,
    env,
  });
  const names: string[] = [];

  const measure = async (): Promise<BenchResult[]> => {
    log("copilot: building the stand-in images and envctl build's three");
    await run({
      label: "build.sh",
      file: "bash",
      args: [path.join(STANDINS, "build.sh")],
      cwd: root,
      env,
    });
    await run(envctl("build"));
    reserveLowBlocks(home);
    const envctlSide: Side = {
      label: "envctl up",
      once: async (n) => {
        const name = `bcop${n}`;
        names.push(name);
        const up = await run(envctl("up", name, "-f", "dev/envctl.yaml", "--yes"));
        await destroyEnv(home, name, repo);
        return up.ms;
      },
    };
    const composeSide: Side = {
      label: "compose up --wait",
      once: async () => {
        const up = await run(compose("up", "-d", "--wait"));
        await run(compose("down", "-v"));
        return up.ms;
      },
    };
    log(`copilot: timing ${rounds} rounds each of envctl up (new env) and compose up -d --wait`);
    const [e, c] = await timeSides([envctlSide, composeSide], rounds);
    return [
      result(
        "copilot-up",
        { label: "envctl up NAME (15 services)", times: e },
        { label: "docker compose up -d --wait", times: c },
        {
          notes: [
            "the preset's 15 services with stand-in images (test/fixtures/copilot-standins), infra off; envctl makes a new env (worktree, network, 4 volumes, 15 containers) each round, compose its project",
          ],
        },
      ),
    ];
  };

  const cleanup = async (): Promise<void> => {
    for (const n of catalogEnvNames(home).filter((x) => names.includes(x))) {
      await destroyEnv(home, n, repo);
    }
    await run(compose("down", "-v")).catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(home.root, { recursive: true, force: true });
  };
  return withCleanup("copilot", measure, cleanup);
}

if (require.main === module) runAloneWithRounds(copilotBench);
