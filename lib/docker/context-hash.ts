import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

const SKIP = new Set([".git", "node_modules"]);

/**
 * Content hash of a build context: relative paths, modes and bytes of every file, in sorted
 * order. A rebuild is planned exactly when this changes. Missing directory -> "missing".
 */
export function contextHash(dir: string): string {
  if (!fs.existsSync(dir)) return "missing";
  const hash = crypto.createHash("sha256");
  const walk = (rel: string): void => {
    const abs = path.join(dir, rel);
    const entries = fs
      .readdirSync(abs, { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (SKIP.has(e.name)) continue;
      const relChild = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        walk(relChild);
      } else if (e.isFile() || e.isSymbolicLink()) {
        const st = fs.statSync(path.join(dir, relChild));
        hash.update(`${relChild}\0${st.mode & 0o111 ? "x" : "-"}\0`);
        if (e.isFile()) hash.update(fs.readFileSync(path.join(dir, relChild)));
        hash.update("\0");
      }
    }
  };
  walk("");
  return hash.digest("hex").slice(0, 32);
}
