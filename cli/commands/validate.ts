import { UserError } from "../../lib/core/errors";
import { blockBase, fixedPorts, hostPort } from "../../lib/spec/ports";
import { formatIssue } from "../../lib/spec/load";
import type { EnvSpec, SpecIssue } from "../../lib/spec/model";
import { blockRange, heldBlocks } from "../../lib/catalog/leases";
import { plural, validateSpec, type ValidateReport } from "../../lib/spec/validate";
import { seams, type CommandSeams } from "../context";
import { loadSpec, SpecError, specSource, type SpecSource } from "../../lib/spec/sources";
import { busyPorts } from "../../lib/runtime/probes";
import { jsonDoc } from "../ui/output";

export interface ValidateOptions extends CommandSeams, SpecSource {
  json?: boolean;
}

/**
 * Checks a spec without starting or creating anything (not even the catalog): what the loader
 * reports, then the port block a new env would get, programs and directories. Exit 0 when the
 * spec is usable (warnings allowed), 2 when it has problems.
 */
export async function validate(opts: ValidateOptions): Promise<number> {
  const s = seams(opts);
  let loaded: ReturnType<typeof loadSpec>;
  try {
    loaded = loadSpec(specSource(opts), s.cwd);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    // An invalid spec carries its issues; anything else (no spec file, bad flags) is one problem.
    const errors =
      err instanceof SpecError
        ? err.issues
        : [{ path: "", message: [err.message, ...err.details].join("; ") }];
    if (opts.json) {
      s.out(
        jsonDoc("validate", {
          ok: false,
          file: null,
          errors,
          warnings: [],
          services: [],
          order: [],
          block: null,
        }),
      );
    } else if (err instanceof SpecError) {
      // A report, not an error message: every issue on a line of its own.
      s.out(
        [`✗ invalid spec ${err.file}`, ...err.issues.map((i) => `  ${formatIssue(i)}`)].join("\n"),
      );
    } else {
      s.out([`✗ ${err.message}`, ...err.details.map((d) => `  ${d}`)].join("\n"));
    }
    return 2;
  }

  const { spec, file } = loaded;
  const report = await validateSpec(spec, {
    held: heldBlocks(s.home.catalogFile),
    busy: busyPorts,
  });
  const warnings = [...loaded.warnings, ...report.warnings];
  if (opts.json) {
    s.out(
      jsonDoc("validate", {
        ok: report.ok,
        file,
        errors: report.errors,
        warnings,
        services: services(spec, report.block),
        order: report.order,
        block: report.block ?? null,
      }),
    );
  } else {
    s.out(human(spec, file, report, warnings));
  }
  return report.ok ? 0 : 2;
}

function services(spec: EnvSpec, block: number | undefined): Record<string, unknown>[] {
  const base = block === undefined ? undefined : blockBase(block);
  return spec.services.map((svc) => ({
    name: svc.name,
    type: svc.type,
    ports: svc.ports.map((p) => ({
      container: p.container,
      offset: p.fixed ? null : p.offset,
      protocol: p.protocol,
      host: p.fixed ? p.container : base === undefined ? null : hostPort(p, base),
      ...(p.fixed ? { fixed: true } : {}),
    })),
    dependsOn: svc.dependsOn,
  }));
}

function human(spec: EnvSpec, file: string, r: ValidateReport, warnings: SpecIssue[]): string {
  const lines: string[] = [];
  if (r.ok) {
    const containers = spec.services.filter((svc) => svc.type === "container").length;
    const processes = spec.services.length - containers;
    const parts = [
      `${plural(spec.services.length, "service")} (${plural(containers, "container")}, ${plural(processes, "process", "processes")})`,
      `start order ${r.order.join(" -> ")}`,
    ];
    const fixed = fixedPorts(spec.services);
    const inBlock = spec.services.some((svc) => svc.ports.some((p) => !p.fixed));
    if (r.block !== undefined && (inBlock || fixed.length === 0)) {
      const [first, last] = blockRange(r.block);
      parts.push(`block ${r.block} (ports ${first}-${last})`);
    }
    if (fixed.length > 0) parts.push(`fixed ports ${fixed.join(", ")}`);
    lines.push(`✓ spec OK: ${parts.join(", ")}`);
  } else {
    lines.push(`✗ ${file}: ${plural(r.errors.length, "problem")}`);
    lines.push(...r.errors.map((e) => `  ${formatIssue(e)}`));
  }
  lines.push(...warnings.map((w) => `warning: ${formatIssue(w)}`));
  return lines.join("\n");
}
