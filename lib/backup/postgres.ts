/**
 * The Postgres side of backups, run inside the env's own postgres container (`docker exec`),
 * so it works on a local engine and a remote one alike and uses the server's own pg_dump: a
 * custom-format dump (`pg_dump -Fc`) out, `pg_restore --clean --single-transaction` in.
 */
import type { DockerEndpoint } from "../docker/client";
import { execCapture } from "../docker/exec";
import { UserError } from "../core/errors";

export interface PgTarget {
  container: string;
  host?: DockerEndpoint;
}

const WHO = 'u="${POSTGRES_USER:-postgres}"; d="${POSTGRES_DB:-$u}"';

/** The database's user and name as the container's environment gives them. */
export async function pgIdentity(t: PgTarget): Promise<{ user: string; db: string }> {
  const r = await execCapture(t.container, ["sh", "-c", `${WHO}; printf '%s\\n%s\\n' "$u" "$d"`], {
    host: t.host,
  });
  const [user = "postgres", db = user] = r.stdout.toString("utf8").trim().split("\n");
  return { user, db };
}

export async function pgDump(t: PgTarget): Promise<Buffer> {
  const r = await execCapture(
    t.container,
    ["sh", "-c", `${WHO}; exec pg_dump -Fc -U "$u" -d "$d"`],
    {
      host: t.host,
    },
  );
  if (r.code !== 0 || r.stdout.length === 0) {
    throw new UserError(
      `pg_dump in ${t.container} failed (exit ${r.code}): ${r.stderr.trim().split("\n").pop() ?? ""}`,
    );
  }
  return r.stdout;
}

/** `pg_restore --list` of the dump: the server's own check that it reads it. */
export async function pgCheckDump(t: PgTarget, dump: Buffer): Promise<string | undefined> {
  const r = await execCapture(t.container, ["pg_restore", "--list"], { host: t.host, input: dump });
  return r.code === 0
    ? undefined
    : r.stderr.trim().split("\n").pop() || `pg_restore exited ${r.code}`;
}

/** Replaces the database's contents with the dump's, in one transaction. */
export async function pgRestore(t: PgTarget, dump: Buffer): Promise<void> {
  const r = await execCapture(
    t.container,
    [
      "sh",
      "-c",
      `${WHO}; exec pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error -U "$u" -d "$d"`,
    ],
    { host: t.host, input: dump },
  );
  if (r.code !== 0) {
    throw new UserError(
      `pg_restore in ${t.container} failed (exit ${r.code}); the transaction was rolled back:\n  | ${r.stderr.trim().split("\n").slice(-5).join("\n  | ")}`,
    );
  }
}
