/**
 * What a service's `watch.ignore` leaves out: each glob is matched against every segment of a
 * changed path below its watched root (`target`, `*.lock`, `node_modules`) and against the
 * whole path from that root (`src/**\/*.gen.ts`), with picomatch (dotfiles included).
 */
import * as path from "node:path";
import picomatch from "picomatch";

export function ignoreMatcher(roots: string[], globs: string[]): (file: string) => boolean {
  if (globs.length === 0) return () => false;
  const match = picomatch(globs, { dot: true });
  return (file: string): boolean => {
    const root = roots.find((r) => file === r || file.startsWith(`${r}${path.sep}`));
    const rel = root === undefined ? path.basename(file) : path.relative(root, file);
    if (rel === "") return false; // the root itself is watched
    if (match(rel)) return true;
    return rel.split(path.sep).some((seg) => match(seg));
  };
}
