/**
 * `node watchdog.js <owner pid:start ticks> <operation token>`: started detached by
 * startWatchdog (lib/runtime/processes.ts) for one envctl operation; stops the operation's
 * processes once its envctl is gone, then exits. SIGTERM (the operation ended) exits at once.
 */
import { parseOwner, watch } from "./processes";

const owner = parseOwner(process.argv[2]);
const token = process.argv[3];
if (owner && token) {
  void watch(owner, token).finally(() => process.exit(0));
}
