/**
 * Rule checks across a normalized spec's services: dependencies, templates, init steps, ports
 * (and what a process is told about its ports: process-ports.ts).
 */
import { topoOrder } from "../core/graph";
import { offsetCollisions } from "./ports";
import { processPortWarnings } from "./process-ports";
import { checkTemplate } from "./template";
import { outsideWorktree } from "./worktree-paths";
import type { EnvSpec, Service, SpecIssue } from "./model";
import { type SpecDoc } from "./schema";

import { OUTSIDE, type DepPaths } from "./normalize";

export function checkRules(
  spec: EnvSpec,
  depPaths: DepPaths,
  doc: SpecDoc,
  warnings: SpecIssue[],
): SpecIssue[] {
  const errors: SpecIssue[] = [];
  const byName = new Map(spec.services.map((s) => [s.name, s]));
  errors.push(...templateIssues(spec, doc), ...initIssues(spec, doc));
  warnings.push(...processPortWarnings(spec, doc));
  for (const s of spec.services) {
    const seen = new Set<string>();
    for (const d of depPaths.get(s.name) ?? []) {
      const target = byName.get(d.name);
      if (d.name === s.name)
        errors.push({ path: d.path, message: "a service cannot depend on itself" });
      else if (!target) errors.push({ path: d.path, message: `unknown service "${d.name}"` });
      else if (seen.has(d.name))
        warnings.push({ path: d.path, message: `duplicate dependency "${d.name}"` });
      else if (s.cold && !target.cold) {
        errors.push({
          path: d.path,
          message: `${s.name} runs while the env is cold but "${d.name}" only runs warm; mark ${d.name} cold: true or drop the dependency`,
        });
      } else if (s.conditions?.[d.name] === "completed" && target.type !== "container") {
        errors.push({
          path: d.path,
          message: `"${d.name}" is a process, which never completes; service_completed_successfully needs a container`,
        });
      } else if (!target.health && !s.conditions?.[d.name]) {
        warnings.push({
          path: d.path,
          message: `"${d.name}" has no health check; ${s.name} starts as soon as ${d.name} is running`,
        });
      }
      seen.add(d.name);
    }
    errors.push(...healthPortIssues(s), ...containerIssues(s, spec, byName));
    if (s.type === "process" && outsideWorktree(s.dir)) {
      errors.push({ path: `services.${s.name}.dir`, message: OUTSIDE });
    }
    if (s.type === "process") {
      s.watch?.paths.forEach((w, i) => {
        if (outsideWorktree(w))
          errors.push({ path: `services.${s.name}.watch.paths[${i}]`, message: OUTSIDE });
      });
    }
    if (s.subdomain !== undefined) {
      if (s.ports.length === 0) {
        errors.push({
          path: `services.${s.name}.subdomain`,
          message: "the service publishes no port for the proxy to route to",
        });
      }
      const other = spec.services.find((o) => o !== s && o.subdomain === s.subdomain);
      if (other && spec.services.indexOf(other) < spec.services.indexOf(s)) {
        errors.push({
          path: `services.${s.name}.subdomain`,
          message: `"${s.subdomain}" is services.${other.name}'s subdomain too`,
        });
      }
    }
  }

  // Self-dependencies and unknown names are reported above; the graph only sees the rest.
  const graph = spec.services.map((s) => ({
    name: s.name,
    dependsOn: s.dependsOn.filter((d) => d !== s.name && byName.has(d)),
  }));
  const topo = topoOrder(graph);
  if (!topo.ok) {
    const members = [...topo.cycle, topo.cycle[0]!];
    errors.push({ path: "services", message: `dependency cycle: ${members.join(" -> ")}` });
  }
  errors.push(...offsetCollisions(spec.services));
  return errors;
}

/** Every `{{...}}` must resolve against this spec. */
function templateIssues(spec: EnvSpec, doc: SpecDoc): SpecIssue[] {
  const out: SpecIssue[] = [];
  const check = (at: string, text: string): void => {
    const problem = checkTemplate(text, spec);
    if (problem) out.push({ path: at, message: problem });
  };
  if (Array.isArray(doc.exports)) {
    doc.exports.forEach((g, i) => {
      for (const [k, v] of Object.entries(g.vars)) check(`exports[${i}].vars.${k}`, String(v));
    });
  } else {
    for (const [k, v] of Object.entries(doc.exports ?? {})) check(`exports.${k}`, String(v));
  }
  const seen = new Map<string, string>();
  spec.exports.forEach((v) => {
    if (seen.has(v.name)) out.push({ path: "exports", message: `${v.name} is exported twice` });
    seen.set(v.name, v.value);
  });
  for (const s of spec.services) {
    if (s.type === "process") check(`services.${s.name}.cmd`, s.cmd);
    for (const [k, v] of Object.entries(s.env)) check(`services.${s.name}.env.${k}`, v);
  }
  const steps = Array.isArray(doc.init) ? doc.init : doc.init?.steps;
  spec.init.forEach((st, i) => {
    const at = Array.isArray(doc.init) ? `init[${i}]` : `init.steps[${i}]`;
    check(typeof steps?.[i] === "string" ? at : `${at}.run`, st.run);
  });
  spec.temporal?.namespaces.forEach((n, i) => check(`temporal.namespaces[${i}]`, n));
  return out;
}

function initIssues(spec: EnvSpec, doc: SpecDoc): SpecIssue[] {
  const out: SpecIssue[] = [];
  const names = new Set(spec.services.map((s) => s.name));
  if (doc.init && !Array.isArray(doc.init)) {
    (doc.init.after ?? []).forEach((a, i) => {
      if (!names.has(a)) out.push({ path: `init.after[${i}]`, message: `unknown service "${a}"` });
    });
  }
  const stepNames = new Set<string>();
  spec.init.forEach((st, i) => {
    if (stepNames.has(st.name))
      out.push({ path: `init.steps[${i}].name`, message: `duplicate step "${st.name}"` });
    stepNames.add(st.name);
    if (outsideWorktree(st.dir)) out.push({ path: `init.steps[${i}].dir`, message: OUTSIDE });
  });
  return out;
}

/** Networks, network_mode and replicas refer to things the env has. */
function containerIssues(s: Service, spec: EnvSpec, byName: Map<string, Service>): SpecIssue[] {
  if (s.type !== "container") return [];
  const out: SpecIssue[] = [];
  const at = `services.${s.name}`;
  const networks = new Set(["default", ...(spec.networks ?? [])]);
  for (const n of Object.keys(s.docker?.networks ?? {})) {
    if (!networks.has(n)) {
      out.push({
        path: `${at}.docker.networks.${n}`,
        message: `unknown network "${n}" (declare it in "networks")`,
      });
    }
  }
  const mode = s.docker?.network_mode;
  const other = mode?.startsWith("service:") ? mode.slice("service:".length) : undefined;
  if (other !== undefined) {
    const target = byName.get(other);
    if (!target || target.type !== "container" || other === s.name) {
      out.push({
        path: `${at}.docker.network_mode`,
        message: `"${other}" is not another container service`,
      });
    }
  }
  if (mode !== undefined && s.docker?.networks && Object.keys(s.docker.networks).length > 0) {
    out.push({ path: `${at}.docker.networks`, message: `not allowed with network_mode "${mode}"` });
  }
  if (mode !== undefined && mode !== "bridge" && s.ports.length > 0) {
    out.push({
      path: `${at}.ports`,
      message: `nothing is published with network_mode "${mode}": the container uses that network's ports`,
    });
  }
  if ((s.replicas ?? 1) > 1 && s.ports.length > 0) {
    out.push({
      path: `${at}.replicas`,
      message: `${s.replicas} replicas cannot share the service's host ports; drop "ports" (replicas are reached by the service name) or use one replica`,
    });
  }
  return out;
}

function healthPortIssues(s: Service): SpecIssue[] {
  const h = s.health;
  if (!h || h.kind === "command") return [];
  const field = h.kind === "tcp" ? "tcp" : "port";
  const at = `services.${s.name}.health`;
  if (h.port === undefined) {
    return [{ path: `${at}.http`, message: 'the service publishes no ports; add one to "ports"' }];
  }
  const listed = s.ports.filter((p) => p.container === h.port);
  if (listed.length === 0) {
    return [
      { path: `${at}.${field}`, message: `port ${h.port} is not one of the service's ports` },
    ];
  }
  if (!listed.some((p) => p.protocol === "tcp")) {
    return [
      {
        path: `${at}.${field}`,
        message: `port ${h.port} is published as udp; ${h.kind} checks need tcp`,
      },
    ];
  }
  return [];
}
