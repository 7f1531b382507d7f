/** lib/engine/errors.ts on what pulumi really prints when it fails (samples from pulumi 3.x). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UserError } from "../../lib/core/errors";
import {
  engineFailure,
  engineReasons,
  mapEngineError,
  PulumiFailure,
} from "../../lib/engine/errors";

const CHECKPOINT_STDERR =
  "error: failed to load checkpoint: place 1: unexpected end of JSON input\n";

/** `pulumi up` with a failing resource: stderr is empty, stdout ends with its Diagnostics. */
const FAILED_RESOURCE_STDOUT = `Updating (rv3):

 +  pulumi-nodejs:dynamic/envctl:Process rv3-app creating (0s) error: app exited before it was healthy
    pulumi:pulumi:Stack envctl-rv3 **failed** 1 error
Diagnostics:
  pulumi-nodejs:dynamic/envctl:Process (rv3-app):
    error: app exited before it was healthy
    --- last lines of app.log ---
    boom-from-app

  pulumi:pulumi:Stack (envctl-rv3):
    error: update failed

Resources:
    7 unchanged
    2 errored
`;

/** An Automation API CommandError as Stack.destroy/refresh/preview throw it (by shape). */
function commandError(stderr: string, stdout = "", name = "CommandError"): Error {
  const commandResult = { stderr, stdout, code: 255 };
  return Object.assign(new Error(`code: 255\n stdout: ${stdout}\n stderr: ${stderr}\n err?: \n`), {
    name,
    commandResult,
  });
}

const ctx = { verb: "up", env: "rv2", recovery: "run `envctl up rv2` again" };

describe("engineReasons", () => {
  it("reads pulumi's error lines from stderr, else from stdout's diagnostics", () => {
    assert.deepEqual(
      engineReasons(new PulumiFailure("up", 1, CHECKPOINT_STDERR, "Updating (rv2):\n")),
      ["error: failed to load checkpoint: place 1: unexpected end of JSON input"],
    );
    assert.deepEqual(engineReasons(new PulumiFailure("up", 1, "", FAILED_RESOURCE_STDOUT)), [
      "error: app exited before it was healthy",
      "error: update failed",
    ]);
  });

  it("falls back to stderr's first line, and strips colour", () => {
    const panic = new PulumiFailure("up", 2, "panic: runtime error\ngoroutine 1 [running]:\n");
    assert.deepEqual(engineReasons(panic), ["panic: runtime error"]);
    const coloured = commandError("\u001b[31merror: \u001b[0mno Pulumi.yaml project file found\n");
    assert.deepEqual(engineReasons(coloured), ["error: no Pulumi.yaml project file found"]);
  });
});

describe("engineFailure", () => {
  it("a corrupt checkpoint: the verb, pulumi's reason, how to restore and the verb's hint", () => {
    const err = engineFailure(new PulumiFailure("up", 1, CHECKPOINT_STDERR), ctx);
    assert.equal(err.message, "up of rv2 failed");
    assert.equal(err.exitCode, 1);
    assert.equal(
      err.details[0],
      "error: failed to load checkpoint: place 1: unexpected end of JSON input",
    );
    assert.match(err.details[1]!, /stacks\/envctl\/rv2\.json\.bak/);
    assert.equal(err.details.at(-1), ctx.recovery);
  });

  it("the same from the Automation API (destroy, refresh)", () => {
    const stderr = `error: getting snapshot: ${CHECKPOINT_STDERR.slice("error: ".length)}`;
    const err = engineFailure(commandError(stderr, "Destroying (rv2):\n"), {
      verb: "destroy",
      env: "rv2",
    });
    assert.equal(err.message, "destroy of rv2 failed");
    assert.match(err.details[0]!, /^error: getting snapshot: failed to load checkpoint/);
  });

  it("a failed resource: its diagnostics once, not again from stdout", () => {
    const diagnostics = [
      "error: app exited before it was healthy\n--- last lines of app.log ---\nboom-from-app",
      "error: update failed",
    ];
    const err = engineFailure(new PulumiFailure("up", 1, "", FAILED_RESOURCE_STDOUT), {
      ...ctx,
      diagnostics,
    });
    assert.deepEqual(err.details, [...diagnostics, ctx.recovery]);
  });

  it("busy, locked and concurrent updates are 'env NAME is busy'", () => {
    const locked = new PulumiFailure(
      "up",
      255,
      "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n",
    );
    const concurrent = commandError("some text", "", "ConcurrentUpdateError");
    for (const e of [locked, concurrent]) {
      const err = engineFailure(e, ctx);
      assert.match(err.message, /^env rv2 is busy: another envctl or pulumi operation/);
      assert.match(err.details.join("\n"), /envctl recover rv2/);
    }
  });

  it("a resource's own error that mentions 'locked' is reported as itself, not as busy", () => {
    const err = engineFailure(
      new PulumiFailure(
        "up",
        255,
        "error: update failed\n  pulumi-nodejs:dynamic/envctl:Container (rv2-db):\n    error: account locked by the registry\n",
      ),
      ctx,
    );
    assert.doesNotMatch(err.message, /busy/);
    assert.match(err.details.join("\n"), /account locked by the registry/);
  });

  it("interrupted, a UserError as it is, and an error that is not pulumi's by its message", () => {
    const cancelled = engineFailure(new PulumiFailure("up", 255, "error: update canceled\n"), {
      ...ctx,
      interrupted: true,
    });
    assert.equal(cancelled.message, "up of rv2 was interrupted");
    assert.deepEqual(cancelled.details, ["error: update canceled", ctx.recovery]);
    const user = new UserError("env rv2 does not exist", 2);
    assert.equal(engineFailure(user, ctx), user);
    const spawnFailed = engineFailure(new Error("spawn /x/pulumi ENOENT"), ctx);
    assert.deepEqual(spawnFailed.details, ["spawn /x/pulumi ENOENT", ctx.recovery]);
  });
});

describe("mapEngineError outside a verb", () => {
  it("a pulumi failure becomes a UserError with pulumi's reason; other errors pass through", () => {
    const err = mapEngineError(new PulumiFailure("stack init", 255, CHECKPOINT_STDERR), "rv2");
    assert.ok(err instanceof UserError);
    assert.equal(
      err.message,
      "pulumi failed on env rv2: failed to load checkpoint: place 1: unexpected end of JSON input",
    );
    const dup = mapEngineError(
      new PulumiFailure("stack init", 255, "error: stack 'rv2' already exists\n"),
      "rv2",
    );
    assert.ok(dup instanceof UserError);
    assert.equal(dup.message, "env rv2 already exists");
    const bug = new TypeError("x is undefined");
    assert.equal(mapEngineError(bug, "rv2"), bug);
  });
});
