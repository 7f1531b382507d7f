/**
 * Files merged in order by compose's override rules (later values win, mappings merge by key,
 * ports add up, mounts replace by target), then each merged service in envctl.yaml form.
 */
import { type ComposeImport, type HealthLayer, isObj, type Layer, type Obj } from "./context";
import { byTarget, uniquePorts } from "./fields";

export function mergeLayers(a: Layer, b: Layer): Layer {
  const ulimits: Obj = { ...a.ulimits };
  for (const [k, v] of Object.entries(b.ulimits)) {
    const prev = ulimits[k];
    ulimits[k] = isObj(prev) && isObj(v) ? { ...prev, ...v } : v;
  }
  const out: Layer = {
    environment: { ...a.environment, ...b.environment },
    envFile: { ...a.envFile, ...b.envFile },
    ports: uniquePorts([...a.ports, ...b.ports]),
    volumes: byTarget(a.volumes, b.volumes),
    ulimits,
  };
  const image = b.image ?? a.image;
  if (image) out.image = image;
  if (a.build || b.build) {
    out.build = { ...a.build, ...b.build, args: { ...a.build?.args, ...b.build?.args } };
    out.build.context = b.build?.context ?? a.build?.context;
    out.build.dockerfile = b.build?.dockerfile ?? a.build?.dockerfile;
  }
  const command = b.command ?? a.command;
  if (command) out.command = command;
  const entrypoint = b.entrypoint ?? a.entrypoint;
  if (entrypoint) out.entrypoint = entrypoint;
  if (a.health || b.health) out.health = { ...a.health, ...b.health } as HealthLayer;
  if (a.depends || b.depends) {
    out.depends = {
      list: (a.depends?.list ?? true) && (b.depends?.list ?? true),
      deps: { ...a.depends?.deps, ...b.depends?.deps },
    };
  }
  return out;
}

/** A merged service in envctl.yaml form. */
export function finish(
  name: string,
  l: Layer,
  { dir, declared, out }: { dir: string; declared: Set<string>; out: ComposeImport },
): Obj {
  const s: Obj = {};
  if (l.build) {
    if (l.image) {
      out.warnings.push({
        ...l.image.at,
        message: '"image" is ignored next to "build": envctl tags the images it builds',
      });
    }
    s.build = {
      context: l.build.context ?? dir,
      ...(l.build.dockerfile ? { dockerfile: l.build.dockerfile } : {}),
      ...(Object.keys(l.build.args).length ? { args: l.build.args } : {}),
    };
  } else if (l.image) s.image = l.image.value;
  if (l.command) s.command = l.command;
  if (l.entrypoint) s.entrypoint = l.entrypoint;
  const env = { ...l.envFile, ...l.environment };
  if (Object.keys(env).length) s.env = env;
  if (l.ports.length) s.ports = l.ports;
  let anon = 0;
  const volumes = l.volumes.map((v) => {
    if (v.named && !declared.has(v.source!)) {
      out.errors.push({
        ...v.at,
        message: `volume "${v.source}" is not declared in the top-level "volumes"`,
      });
    }
    if (v.source !== undefined)
      return { source: v.source, target: v.target, read_only: v.read_only };
    const source = `${name}-anon-${++anon}`;
    out.warnings.push({
      ...v.at,
      message: `anonymous volume at ${v.target} becomes the named volume "${source}", kept with the env`,
    });
    return { source, target: v.target, read_only: v.read_only };
  });
  if (volumes.length) s.volumes = volumes;
  if (Object.keys(l.ulimits).length) s.ulimits = l.ulimits;
  const health = l.health && healthOut(l.health, out);
  if (health) s.health = health;
  if (l.depends) s.depends_on = l.depends.list ? Object.keys(l.depends.deps) : l.depends.deps;
  return s;
}

function healthOut(h: HealthLayer, out: ComposeImport): Obj | undefined {
  if (h.disable || h.test === null) return undefined;
  if (h.test === undefined) {
    out.warnings.push({
      ...h.at,
      message:
        'has no "test" and envctl cannot see the image\'s HEALTHCHECK; set health in envctl.yaml',
    });
    return undefined;
  }
  const timing = (["interval", "timeout", "retries", "start_period"] as const).filter(
    (k) => h[k] !== undefined,
  );
  return { command: h.test, ...Object.fromEntries(timing.map((k) => [k, h[k]])) };
}
