/**
 * What a process service's ports mean, checked: a process is not port-mapped, it listens on its
 * host port (block base + offset) itself, so its command must be told that port. These are
 * warnings (a program may read PORT without the spec saying so); each says how to silence it.
 */
import type { EnvSpec, ProcessService, SpecIssue } from "./model";
import { portRefs } from "./template";
import type { SpecDoc } from "./schema";

/** A name used as a word of its own: `$PORT`, `${PORT:-3000}`, `process.env.PORT`. */
function mentions(text: string, names: string[]): boolean {
  return names.some((n) => new RegExp(`(?<![A-Za-z0-9_])${n}(?![A-Za-z0-9_])`).test(text));
}

/** `$NAME` or `${NAME...}`: the shell expands the variable there. */
function expands(text: string, name: string): boolean {
  return new RegExp(`\\$\\{?${name}(?![A-Za-z0-9_])`).test(text);
}

const WHOLE_TEMPLATE_RE = /^\{\{[^{}]*\}\}$/;

export function processPortWarnings(spec: EnvSpec, doc: SpecDoc): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const s of spec.services) {
    if (s.type !== "process" || s.ports.length === 0) continue;
    const written = doc.services?.[s.name]?.ports ?? [];
    s.ports.forEach((p, i) => {
      const w = written[i];
      if (typeof w === "object" && w.container !== undefined) {
        out.push({
          path: `services.${s.name}.ports[${i}].container`,
          message: `a process is not port-mapped: it must listen on its host port itself (block base + ${p.offset}, given in $PORT${i === 0 ? "" : `_${p.container}`}); write "port: ${p.container}" instead`,
        });
      }
    });
    out.push(...untold(s, spec), ...overridden(s));
  }
  return out;
}

/** The variables a port is given in, and the templates that name it. */
function names(s: ProcessService, i: number): { vars: string[]; template: string } {
  const n = s.ports[i]!.container;
  return i === 0
    ? { vars: ["PORT", `PORT_${n}`], template: `{{ports.${s.name}}}` }
    : { vars: [`PORT_${n}`], template: `{{ports.${s.name}.${n}}}` };
}

/** Whether a `ports.` reference names port i of s. */
function refersTo(s: ProcessService, i: number, ref: { service: string; port?: number }): boolean {
  if (ref.service !== s.name) return false;
  return ref.port === undefined ? i === 0 : ref.port === s.ports[i]!.container;
}

/**
 * A port the program is never told: cmd does not mention its variable or template, no env
 * value holds it, and no export holds it alone (`API_PORT: "{{ports.api}}"`, which the program
 * may read from env.sh) or is expanded by cmd (`--listen $API_ADDR`).
 */
function untold(s: ProcessService, spec: EnvSpec): SpecIssue[] {
  return s.ports.flatMap((p, i): SpecIssue[] => {
    if (p.fixed) return []; // the program listens on the port it was written with
    const { vars, template } = names(s, i);
    const refs = (text: string): boolean => portRefs(text).some((r) => refersTo(s, i, r));
    const told =
      vars.some((v) => v in s.env) || // a value that is not the port is overridden()'s warning
      mentions(s.cmd, vars) ||
      refs(s.cmd) ||
      Object.values(s.env).some(refs) ||
      spec.exports.some(
        (e) => refs(e.value) && (WHOLE_TEMPLATE_RE.test(e.value.trim()) || expands(s.cmd, e.name)),
      );
    if (told) return [];
    const given = vars.map((v) => `$${v}`).join(" and ");
    return [
      {
        path: `services.${s.name}.ports[${i}]`,
        message: `cmd and env never mention this port, so the program cannot know it must listen on block base + ${p.offset} (not ${p.container}; it gets ${given}): use it in cmd (--port $${vars[0]}), or set env ${vars[0]}: "${template}" if the program reads ${vars[0]} itself`,
      },
    ];
  });
}

/** An env value for PORT / PORT_<n> that is not that port beats the one envctl gives. */
function overridden(s: ProcessService): SpecIssue[] {
  return s.ports.flatMap((p, i): SpecIssue[] => {
    if (p.fixed) return [];
    const { vars, template } = names(s, i);
    return vars.flatMap((v): SpecIssue[] => {
      const value = s.env[v];
      if (value === undefined || portRefs(value).some((r) => refersTo(s, i, r))) return [];
      return [
        {
          path: `services.${s.name}.env.${v}`,
          message: `replaces the port envctl gives the program (block base + ${p.offset}), where health checks and status look; drop it or set it to "${template}"`,
        },
      ];
    });
  });
}
