/**
 * How an A3sfile is told by its name, and its names for envctl.yaml's fields: what the rest of
 * envctl needs of the format without loading its parser.
 */
import * as path from "node:path";

/** Whether a `-f` file is an A3sfile: `*.hcl`, or named A3sfile. */
export function isA3sfileName(file: string): boolean {
  return /\.hcl$/i.test(file) || /^A3sfile/i.test(path.basename(file));
}

/** The file `envctl up` reads in a directory without an envctl.yaml. */
export const A3SFILE = "A3sfile.hcl";

/** envctl.yaml's dot-path of a mapped field -> the A3sfile's. */
const A3S_NAMES: [RegExp, string][] = [
  [/^services\.([^.[]+)\.ports(\[0\])?(\.port)?$/, "service.$1.port"],
  [/^services\.([^.[]+)\.health\.http$/, "service.$1.health.path"],
  [/^services\.([^.[]+)\.health\.tcp$/, "service.$1.health.type"],
  [/^services(?=\.|$)/, "service"],
];

export function a3sPath(p: string): string {
  for (const [re, to] of A3S_NAMES) if (re.test(p)) return p.replace(re, to);
  return p;
}

/** An issue about a mapped field, in the A3sfile's words (`service.x.port`). */
export function a3sIssue<T extends { path: string; message: string }>(i: T): T {
  return {
    ...i,
    path: i.path === "base" ? "" : a3sPath(i.path),
    message: i.message.replace(/\bservices\./g, "service."),
  };
}
