/**
 * Whether a spec file is a compose file or an envctl.yaml, told by what it says. Both have
 * `services`, but each format has keys the other lacks:
 *
 *   compose: top-level version, name, networks, volumes, configs, secrets, include, x-*;
 *            services with environment, env_file, healthcheck, restart, container_name, ...;
 *            ports written as strings ("8080:80") or as { target, published }
 *   envctl:  top-level repo, base, exports, init, temporal, compose; services with cmd, dir,
 *            health, env, type, cold; ports written as { container, offset }
 *
 * Every such key or port counts for its format and the format with more wins. A tie (a file
 * both would read, like `services: { db: { image: x } }`, or one that does not parse) goes by
 * the name: compose's own names (docker-compose.yml, compose.override.yaml, app.compose.yml)
 * are compose; anything else is the caller's fallback.
 */
import { isA3sfileName } from "./a3s-name";
import { parseYaml, readTextFile } from "./read";

export const SPEC_FORMATS = ["compose", "envctl", "a3s"] as const;
export type SpecFormat = (typeof SPEC_FORMATS)[number];

export function isSpecFormat(v: string): v is SpecFormat {
  return (SPEC_FORMATS as readonly string[]).includes(v);
}

const words = (s: string): Set<string> => new Set(s.split(/\s+/));
const COMPOSE_TOP = words("version name networks volumes configs secrets include");
const ENVCTL_TOP = words("repo base exports init temporal compose dev");
const COMPOSE_SERVICE = words(
  "environment env_file healthcheck restart container_name hostname networks network_mode " +
    "expose labels logging profiles deploy working_dir user privileged cap_add cap_drop " +
    "extra_hosts platform stdin_open tty init pull_policy develop secrets configs extends",
);
const ENVCTL_SERVICE = words("cmd dir health env type cold max_restarts watch subdomain");

/** Whether the file name is one compose itself would look for (or an `x.compose.yml`). */
export function composeName(file: string): boolean {
  return /(^|[/.-])(docker-)?compose[^/]*\.ya?ml$/.test(file);
}

/** The format of `file` by its content; a tie goes by its name, then `fallback`. */
export function specFormat(file: string, fallback: SpecFormat = "envctl"): SpecFormat {
  if (isA3sfileName(file)) return "a3s"; // HCL, not YAML
  const votes = { compose: 0, envctl: 0 };
  // Unreadable or not YAML: the loader explains, by the name's format.
  const read = readTextFile(file);
  const parsed = "text" in read ? parseYaml(read.text) : undefined;
  const doc = parsed && "data" in parsed ? parsed.data : undefined;
  if (isMap(doc)) {
    for (const key of Object.keys(doc)) {
      if (COMPOSE_TOP.has(key) || key.startsWith("x-")) votes.compose++;
      else if (ENVCTL_TOP.has(key)) votes.envctl++;
    }
    const services = isMap(doc.services) ? Object.values(doc.services) : [];
    for (const svc of services.filter(isMap)) {
      for (const key of Object.keys(svc)) {
        if (COMPOSE_SERVICE.has(key)) votes.compose++;
        else if (ENVCTL_SERVICE.has(key)) votes.envctl++;
      }
      for (const port of Array.isArray(svc.ports) ? (svc.ports as unknown[]) : []) {
        if (typeof port === "string" || (isMap(port) && "target" in port)) votes.compose++;
        else if (isMap(port) && "container" in port) votes.envctl++;
      }
    }
  }
  if (votes.compose !== votes.envctl) return votes.compose > votes.envctl ? "compose" : "envctl";
  return composeName(file) ? "compose" : fallback;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
