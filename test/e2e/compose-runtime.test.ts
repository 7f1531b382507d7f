/**
 * Compose keys whose effect only shows when the containers run, for real (Docker, the Pulumi
 * engine, Compose as the parser): init as PID 1, secrets and configs in place, replicas reached
 * by the service name, profiles, run-to-completion ordering and its failure, a 127.0.0.1 binding,
 * the stop signal reaching the process, a read-only root filesystem, the exec-form health check.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { assertNoTrace, envctl, said } from "../support/cli";
import { dockerLeftovers, envName, makeRepo, ROOT, tempDir } from "../support/env";

const FIXTURE = path.join(ROOT, "test", "fixtures", "compose", "runtime");

interface Inspect {
  Config: { Labels: Record<string, string>; Healthcheck?: { Test: string[] } };
  HostConfig: {
    Init: boolean | null;
    ReadonlyRootfs: boolean;
    Memory: number;
    PortBindings: Record<string, { HostIp: string; HostPort: string }[]>;
  };
  State: { StartedAt: string; FinishedAt: string; ExitCode: number; Running: boolean };
}

const inspect = (c: string): Inspect =>
  (JSON.parse(execFileSync("docker", ["inspect", c], { encoding: "utf8" })) as Inspect[])[0]!;
const exec = (c: string, ...cmd: string[]): { code: number | null; out: string } => {
  const r = spawnSync("docker", ["exec", c, ...cmd], { encoding: "utf8" });
  return { code: r.status, out: (r.stdout + r.stderr).trim() };
};

/** Whether something accepts a TCP connection at host:port within a second. */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/** A non-loopback IPv4 address of this machine. */
function otherAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

describe("compose keys at run time", { timeout: 10 * 60_000 }, () => {
  const home = tempDir("home");
  const signals = tempDir("signals");
  fs.chmodSync(signals, 0o777);
  const repo = makeRepo({ copyFrom: FIXTURE });
  const name = envName("crt");
  const env = { SIGNALS_DIR: signals, RUNTIME_TOKEN: "tok-123" };
  after(async () => {
    await envctl(["destroy", name, "--yes", "--force"], { home, cwd: repo, env });
    for (const d of [home, signals, repo]) fs.rmSync(d, { recursive: true, force: true });
  });

  it("up runs the project as Compose would", async () => {
    const r = await envctl(["up", name, "-f", "compose.yml", "--yes"], { home, cwd: repo, env });
    assert.equal(r.code, 0, said(r));
    assertNoTrace(r);
    const web = `envctl-${name}-Web_App`;

    // init: PID 1 is Docker's init, the command its child.
    assert.equal(inspect(web).HostConfig.Init, true);
    assert.match(exec(web, "cat", "/proc/1/cmdline").out, /docker-init/);

    // secrets (file and environment sources) and a config given by content.
    assert.equal(exec(web, "cat", "/run/secrets/api_key").out, "s3cr3t");
    assert.equal(exec(web, "cat", "/etc/token").out, "tok-123");
    assert.equal(exec(web, "stat", "-c", "%a", "/etc/token").out, "400");
    assert.equal(exec(web, "cat", "/greeting").out, "hello $USER", "$$ is a literal $");

    // read_only root, tmpfs still writable.
    assert.notEqual(exec(web, "touch", "/x").code, 0);
    assert.equal(exec(web, "touch", "/scratch/x").code, 0);

    // labels next to envctl's own; the exec-form health check kept as written.
    const info = inspect(web);
    assert.equal(info.Config.Labels["com.example.tier"], "front");
    assert.equal(info.Config.Labels["envctl.env"], name);
    assert.deepEqual(info.Config.Healthcheck?.Test, ["CMD", "test", "-e", "/proc/1"]);

    // 127.0.0.1:8001:8000 is bound to loopback only; "80" and "8080" get different offsets.
    const b = info.HostConfig.PortBindings;
    assert.equal(b["8000/tcp"]?.[0]?.HostIp, "127.0.0.1");
    const p80 = Number(b["80/tcp"]?.[0]?.HostPort);
    const p8080 = Number(b["8080/tcp"]?.[0]?.HostPort);
    assert.ok(p80 > 0 && p8080 > 0 && p80 !== p8080, `80 -> ${p80}, 8080 -> ${p8080}`);
    const loop = Number(b["8000/tcp"]?.[0]?.HostPort);
    const other = otherAddress();
    if (other) {
      // Docker's proxy for the binding accepts on loopback only; the other address refuses.
      assert.equal(await connects(other, loop), false, `${other}:${loop} must not be bound`);
      assert.equal(await connects("127.0.0.1", loop), true, `127.0.0.1:${loop} is bound`);
    }

    // service_completed_successfully: migrate ran to exit 0 before Web_App started.
    const migrate = inspect(`envctl-${name}-migrate`);
    assert.equal(migrate.State.Running, false);
    assert.equal(migrate.State.ExitCode, 0);
    assert.ok(Date.parse(info.State.StartedAt) >= Date.parse(migrate.State.FinishedAt));

    // replicas: three containers, each found under the service name.
    const workers = dockerLeftovers(name).containers.filter((id) =>
      /-worker(-\d)?$/.test(
        execFileSync("docker", ["inspect", "-f", "{{.Name}}", id], { encoding: "utf8" }).trim(),
      ),
    );
    assert.equal(workers.length, 3);
    const ips = exec(web, "getent", "ahostsv4", "worker")
      .out.split("\n")
      .map((l) => l.split(/\s+/)[0]);
    assert.equal(new Set(ips).size, 3, exec(web, "getent", "ahostsv4", "worker").out);
    assert.equal(inspect(`envctl-${name}-worker-2`).HostConfig.Memory, 64 * 1024 * 1024);

    // profiles: `extra` is not part of the env without --profile extra.
    assert.equal(spawnSync("docker", ["inspect", `envctl-${name}-extra`]).status, 1);

    // status: the completed job is done (no crash warning), the replicas are one row.
    const st = await envctl(["status", name], { home, cwd: repo, env });
    assert.equal(st.code, 0, said(st));
    assert.match(st.stdout, /3 containers/);
    assert.match(st.stdout, /completed/);
    assert.doesNotMatch(st.stdout + st.stderr, /migrate.*(exited|crash)/i);

    // A second up changes nothing: the completed job is not run again.
    const again = await envctl(["preview", name, "-f", "compose.yml"], { home, cwd: repo, env });
    assert.equal(again.code, 0, said(again));
    assert.doesNotMatch(again.stdout, /migrate.*(replace|create)/i, again.stdout);
  });

  it("cool stops a service with its stop_signal", async () => {
    const r = await envctl(["cool", name], { home, cwd: repo, env });
    assert.equal(r.code, 0, said(r));
    assert.equal(fs.readFileSync(path.join(signals, "web"), "utf8").trim(), "got-usr1");
  });

  it("--profile brings the profile's services", async () => {
    const r = await envctl(["up", name, "-f", "compose.yml", "--profile", "extra", "--yes"], {
      home,
      cwd: repo,
      env,
    });
    assert.equal(r.code, 0, said(r));
    assert.equal(inspect(`envctl-${name}-extra`).State.Running, true);
  });

  it("a run-to-completion service that fails stops the update with its log", async () => {
    const failing = envName("crtf");
    const dir = makeRepo({
      files: {
        "compose.yml": [
          "services:",
          "  migrate:",
          "    image: debian:bookworm",
          '    command: ["bash", "-c", "echo migration broke; exit 3"]',
          "  app:",
          "    image: debian:bookworm",
          '    command: ["sleep", "infinity"]',
          "    depends_on:",
          "      migrate: { condition: service_completed_successfully }",
          "",
        ].join("\n"),
      },
    });
    try {
      const r = await envctl(["up", failing, "-f", "compose.yml", "--yes"], { home, cwd: dir });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /exited with code 3/);
      assert.match(r.stderr, /migration broke/);
      assert.equal(
        spawnSync("docker", ["inspect", `envctl-${failing}-app`]).status,
        1,
        "app never started",
      );
    } finally {
      await envctl(["destroy", failing, "--yes", "--force"], { home, cwd: dir });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
