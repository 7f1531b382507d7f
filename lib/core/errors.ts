/**
 * A problem the user can fix (bad input, unknown env, busy env). Printed as a message only,
 * never with a stack. Exit code 2 for bad input, 1 for a failed operation.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    /** Extra lines printed after the message (e.g. every spec issue, or how to recover). */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = "UserError";
  }
}

export function badInput(message: string, details: string[] = []): UserError {
  return new UserError(message, 2, details);
}
