/**
 * Service dependency graph: start order (dependencies first) and cycle reporting.
 * Pure functions; names that are not nodes are ignored here (load.ts reports them).
 */

export interface GraphNode {
  name: string;
  /** Names this node depends on; they come before it in the order. */
  dependsOn: string[];
}

export type TopoResult = { ok: true; order: string[] } | { ok: false; cycle: string[] };

/**
 * Kahn's algorithm. Among nodes that are ready at the same time, the one earlier in `nodes`
 * goes first, so a graph without edges keeps its input order.
 *
 * On failure `cycle` lists the members so that each depends on the next and the last depends
 * on the first (which is not repeated), starting at the member earliest in `nodes`.
 */
export function topoOrder(input: GraphNode[]): TopoResult {
  // A repeated name is one node; its first occurrence counts.
  const seen = new Set<string>();
  const nodes = input.filter((n) => !seen.has(n.name) && seen.add(n.name));
  const index = new Map(nodes.map((n, i) => [n.name, i]));
  // deps[i]: distinct known dependencies of node i; dependents[j]: nodes waiting on j.
  const deps = nodes.map((n) =>
    [...new Set(n.dependsOn)].filter((d) => index.has(d)).map((d) => index.get(d)!),
  );
  const dependents: number[][] = nodes.map(() => []);
  const pending = deps.map((ds) => ds.length);
  deps.forEach((ds, i) => ds.forEach((d) => dependents[d]!.push(i)));

  const ready: number[] = []; // kept sorted ascending: the smallest index is taken first
  const insert = (i: number): void => {
    let at = ready.length;
    while (at > 0 && ready[at - 1]! > i) at--;
    ready.splice(at, 0, i);
  };
  pending.forEach((p, i) => {
    if (p === 0) insert(i);
  });

  const order: string[] = [];
  const done = new Set<number>();
  while (ready.length > 0) {
    const i = ready.shift()!;
    done.add(i);
    order.push(nodes[i]!.name);
    for (const j of dependents[i]!) {
      pending[j]! -= 1;
      if (pending[j] === 0) insert(j);
    }
  }
  if (order.length === nodes.length) return { ok: true, order };
  return { ok: false, cycle: findCycle(nodes, deps, done) };
}

/**
 * Every node left after Kahn has an unfinished dependency, so walking first unfinished
 * dependencies from any of them must revisit a node; the revisited stretch is a cycle.
 */
function findCycle(nodes: GraphNode[], deps: number[][], done: Set<number>): string[] {
  let start = 0;
  while (done.has(start)) start++;
  const seenAt = new Map<number, number>();
  const path: number[] = [];
  let cur = start;
  while (!seenAt.has(cur)) {
    seenAt.set(cur, path.length);
    path.push(cur);
    cur = deps[cur]!.find((d) => !done.has(d))!;
  }
  const cycle = path.slice(seenAt.get(cur));
  const first = cycle.indexOf(Math.min(...cycle));
  return [...cycle.slice(first), ...cycle.slice(0, first)].map((i) => nodes[i]!.name);
}

/** Teardown order: dependents before their dependencies. */
export function reverseOrder(order: string[]): string[] {
  return [...order].reverse();
}
