/**
 * The hivesync kind's deploy gate: the steps run inside a service after each deploy
 * (`alembic upgrade head` in backend), then the health check. Each is a resource whose
 * `trigger` is the deployed containers' ids: a deploy that replaced any container runs them
 * again; one that changed nothing runs nothing. A failing step fails the update with its output.
 */
import type { DockerEndpoint } from "../docker/client";
import { execIn } from "../docker/exec";
import { waitHealthy } from "../health/hivesync";
import type { HealthSpec } from "../spec/model";
import { differs, type Handler, type Props } from "./types";

interface StepInputs {
  /** The container the step runs in. */
  container: string;
  service: string;
  run: string;
  timeoutMs: number;
  trigger: string;
  dockerHost?: DockerEndpoint;
}

const tail = (s: string, n = 20): string =>
  s
    .trim()
    .split("\n")
    .slice(-n)
    .map((l) => `  | ${l}`)
    .join("\n");

export const deployStep: Handler = {
  async create(inputs) {
    const i = inputs as unknown as StepInputs;
    const started = Date.now();
    const res = await execIn(i.container, ["sh", "-c", i.run], {
      host: i.dockerHost,
      timeoutMs: i.timeoutMs,
    });
    if (res.code !== 0) {
      const out = res.output.trim() ? `:\n${tail(res.output)}` : " (no output)";
      throw new Error(
        `deploy step \`${i.run}\` in ${i.service} exited with code ${res.code}${out}`,
      );
    }
    return {
      id: `${i.container}:${i.trigger}`,
      outs: { ...inputs, ranAt: new Date().toISOString(), seconds: (Date.now() - started) / 1000 },
    };
  },
  diff(_id, olds, news) {
    const replaces = differs(olds, news, ["container", "run", "trigger", "dockerHost"]);
    const other = differs(olds, news, ["service", "timeoutMs"]);
    return Promise.resolve({ changes: replaces.length + other.length > 0, replaces });
  },
  update(_id, olds, news) {
    return Promise.resolve({ outs: { ...news, ranAt: olds.ranAt, seconds: olds.seconds } });
  },
  // Nothing to undo: a migration stays applied.
  delete: () => Promise.resolve(),
};

interface GateInputs {
  env: string;
  health: HealthSpec;
  trigger: string;
  dockerHost?: DockerEndpoint;
}

export const healthGate: Handler = {
  async create(inputs) {
    const i = inputs as unknown as GateInputs;
    const report = await waitHealthy(i.env, i.health, i.dockerHost);
    if (report.status === "fail") {
      throw new Error(
        `the health check failed after the deploy of ${i.env}: ${report.reasons.join("; ")}`,
      );
    }
    const outs: Props = { ...inputs, status: report.status, reasons: report.reasons };
    return { id: `${i.env}:health:${i.trigger}`, outs };
  },
  diff(_id, olds, news) {
    const replaces = differs(olds, news, ["env", "trigger", "dockerHost"]);
    const other = differs(olds, news, ["health"]);
    return Promise.resolve({ changes: replaces.length + other.length > 0, replaces });
  },
  update(_id, olds, news) {
    return Promise.resolve({ outs: { ...news, status: olds.status, reasons: olds.reasons } });
  },
  delete: () => Promise.resolve(),
};
