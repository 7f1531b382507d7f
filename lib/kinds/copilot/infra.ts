/**
 * `envctl infra NAME apply|destroy` acts on the copilot stack's AWS part alone: the
 * CopilotInfra component (components/copilot/infra.ts) and everything under it.
 */

/** The component's type; its descendants' URNs carry it first in their type chain. */
export const INFRA_TYPE = "envctl:copilot:Infra";

/**
 * The `--target` of a component whose type chain starts with `typeChain` and everything under
 * it: the engine's `**` wildcard matches the component's URN and its children's (their type
 * chain continues with `$`). test/engine/targeted.test.ts runs it for real.
 */
export function subtreeTarget(stack: string, typeChain: string): string {
  return `urn:pulumi:${stack}::envctl::${typeChain}**`;
}

/** Targets of a targeted update of the AWS part: the Infra component and its children. */
export function infraTargets(stack: string): string[] {
  return [subtreeTarget(stack, INFRA_TYPE)];
}

interface Held {
  urn: string;
  type: string;
  dependencies?: string[];
  outputs?: Record<string, unknown>;
}

/** Whether a URN is the AWS part's: the component, or a resource under it. */
export function isInfraUrn(urn: string): boolean {
  const type = urn.split("::")[2] ?? "";
  return type === INFRA_TYPE || type.startsWith(`${INFRA_TYPE}$`);
}

/**
 * The AWS part's URNs in a checkpoint, and the resources outside it that depend on one (the
 * containers whose environment holds its endpoints): those must go first, or the engine
 * refuses the targeted destroy.
 */
export function infraHeld(held: Held[]): { infra: string[]; dependents: Held[] } {
  const infra = held.filter((r) => isInfraUrn(r.urn)).map((r) => r.urn);
  const set = new Set(infra);
  const dependents = held.filter(
    (r) => !set.has(r.urn) && (r.dependencies ?? []).some((d) => set.has(d)),
  );
  return { infra, dependents };
}
