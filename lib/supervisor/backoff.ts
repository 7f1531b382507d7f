/**
 * The restart policy (the a3s document's `RestartPolicy` trait and its `ExponentialBackoff`):
 * whether an exit is restarted at all, and after how long. The supervisor asks; it never
 * computes a delay itself, so another policy can replace this one without touching it.
 */
import type { RestartPolicy } from "../spec/model";
import type { BackoffSpec } from "./model";

export interface Exit {
  /** The command's exit status; undefined when it was killed by a signal or exec'd away. */
  code?: number;
  /** It stayed unhealthy, and was stopped for it. */
  unhealthy?: boolean;
}

/** `no` never restarts; `on-failure` restarts anything but a clean exit 0; `always` restarts. */
export function restarts(policy: RestartPolicy, exit: Exit): boolean {
  if (policy === "no") return false;
  if (policy === "always") return true;
  return exit.unhealthy === true || exit.code !== 0;
}

/** 1 s, 2 s, 4 s ... up to 30 s; back to 1 s once the service ran healthy for 60 s. */
export class ExponentialBackoff {
  private attempts = 0;

  constructor(private readonly spec: BackoffSpec) {}

  /** The delay before the next restart; each call doubles the one after. */
  next(): number {
    const delay = Math.min(this.spec.initialMs * 2 ** this.attempts, this.spec.maxMs);
    if (delay < this.spec.maxMs) this.attempts++;
    return delay;
  }

  /** How long the service has run healthy: a long enough stretch forgives earlier crashes. */
  ranHealthy(ms: number): boolean {
    if (ms < this.spec.resetAfterMs || this.attempts === 0) return false;
    this.attempts = 0;
    return true;
  }

  reset(): void {
    this.attempts = 0;
  }
}
