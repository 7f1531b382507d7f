import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { reverseOrder, topoOrder, type GraphNode } from "../../lib/core/graph";

const node = (name: string, ...dependsOn: string[]): GraphNode => ({ name, dependsOn });

test("dependencies come first, ties keep input order", () => {
  const r = topoOrder([node("web", "api"), node("worker", "db"), node("api", "db"), node("db")]);
  assert.deepEqual(r, { ok: true, order: ["db", "worker", "api", "web"] });
});

test("a graph with no edges returns the input order", () => {
  assert.deepEqual(topoOrder([node("c"), node("a"), node("b")]), {
    ok: true,
    order: ["c", "a", "b"],
  });
  assert.deepEqual(topoOrder([]), { ok: true, order: [] });
});

test("unknown dependencies and repeated entries are ignored", () => {
  const r = topoOrder([node("web", "db", "db", "nope"), node("db")]);
  assert.deepEqual(r, { ok: true, order: ["db", "web"] });
});

test("a 3-cycle is reported in dependency order, starting at the earliest member", () => {
  const r = topoOrder([node("x"), node("b", "c"), node("a", "b"), node("c", "a"), node("y", "a")]);
  assert.deepEqual(r, { ok: false, cycle: ["b", "c", "a"] });
});

test("a self-dependency is a cycle of one", () => {
  assert.deepEqual(topoOrder([node("a"), node("b", "b")]), { ok: false, cycle: ["b"] });
});

test("reverseOrder reverses without mutating", () => {
  const order = ["db", "api", "web"];
  assert.deepEqual(reverseOrder(order), ["web", "api", "db"]);
  assert.deepEqual(order, ["db", "api", "web"]);
});

/** Random DAG: node i may depend only on nodes with a smaller rank; input order is shuffled. */
const dag = fc
  .integer({ min: 1, max: 25 })
  .chain((n) =>
    fc.tuple(
      fc.array(fc.array(fc.nat(n - 1), { maxLength: 4 }), { minLength: n, maxLength: n }),
      fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
    ),
  )
  .map(([deps, perm]) => {
    const nodes = deps.map((ds, i) =>
      node(`s${i}`, ...ds.filter((d) => d < i).map((d) => `s${d}`)),
    );
    return perm.map((i) => nodes[i]!);
  });

test("property: in a DAG every dependency precedes its dependent", () => {
  fc.assert(
    fc.property(dag, (nodes) => {
      const r = topoOrder(nodes);
      assert.ok(r.ok);
      assert.deepEqual([...r.order].sort(), nodes.map((n) => n.name).sort());
      const pos = new Map(r.order.map((name, i) => [name, i]));
      for (const n of nodes) for (const d of n.dependsOn) assert.ok(pos.get(d)! < pos.get(n.name)!);
    }),
  );
});

test("property: each step takes the earliest-in-input node whose dependencies are done", () => {
  fc.assert(
    fc.property(dag, (nodes) => {
      const r = topoOrder(nodes);
      assert.ok(r.ok);
      const done = new Set<string>();
      for (const name of r.order) {
        const firstReady = nodes.find(
          (n) => !done.has(n.name) && n.dependsOn.every((d) => done.has(d)),
        );
        assert.equal(name, firstReady?.name);
        done.add(name);
      }
    }),
  );
});

test("property: a graph with no edges keeps any input order", () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { maxLength: 30 }), (names) => {
      assert.deepEqual(topoOrder(names.map((n) => node(n))), { ok: true, order: names });
    }),
  );
});

test("property: an injected cycle is reported with real edges between consecutive members", () => {
  const cyclic = fc
    .integer({ min: 1, max: 15 })
    .chain((n) =>
      fc.tuple(
        fc.constant(n),
        fc.array(fc.array(fc.nat(n - 1), { maxLength: 3 }), { minLength: n, maxLength: n }),
        fc.uniqueArray(fc.nat(n - 1), { minLength: 1, maxLength: n }),
      ),
    )
    .map(([n, deps, ring]) => {
      const edges = deps.map((ds) => new Set(ds));
      ring.forEach((m, i) => edges[m]!.add(ring[(i + 1) % ring.length]!));
      return [...Array(n).keys()].map((i) => node(`s${i}`, ...[...edges[i]!].map((d) => `s${d}`)));
    });
  fc.assert(
    fc.property(cyclic, (nodes) => {
      const r = topoOrder(nodes);
      assert.ok(!r.ok, "a graph with a cycle must not be ordered");
      const byName = new Map(nodes.map((n) => [n.name, n]));
      assert.ok(r.cycle.length >= 1);
      assert.equal(new Set(r.cycle).size, r.cycle.length, "members are distinct");
      r.cycle.forEach((m, i) => {
        const next = r.cycle[(i + 1) % r.cycle.length]!;
        assert.ok(byName.get(m)!.dependsOn.includes(next), `${m} -> ${next} is an edge`);
      });
    }),
  );
});
