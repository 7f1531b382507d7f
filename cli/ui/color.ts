/**
 * Whether envctl's own output is coloured. picocolors' default turns colour on whenever `CI` is
 * set, which would put escape codes into captured reports; envctl decides from the stream instead.
 */
import pc from "picocolors";

export type Colors = ReturnType<typeof pc.createColors>;

/** NO_COLOR (non-empty) always wins; FORCE_COLOR forces unless "0"/"false"; else a terminal. */
export function colorEnabled(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  return isTTY;
}

/** Colour functions for this process's stdout (or forced on/off). */
export function colors(enabled = colorEnabled(process.env, process.stdout.isTTY === true)): Colors {
  return pc.createColors(enabled);
}
