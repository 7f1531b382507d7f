import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import fc from "fast-check";
import { busyPorts } from "../../lib/runtime/probes";
import {
  BLOCK_SIZE,
  BLOCK_START,
  MAX_BLOCK,
  blockBase,
  defaultOffset,
  hostPorts,
  offsetCollisions,
  resolveServices,
  UNSAFE_PORTS,
  unsafePorts,
} from "../../lib/spec/ports";
import type { ContainerService, PortMapping } from "../../lib/spec/model";

const svc = (name: string, ports: PortMapping[]): ContainerService => ({
  name,
  cold: false,
  type: "container",
  image: "busybox",
  env: {},
  ports,
  volumes: [],
  dependsOn: [],
});
const tcp = (container: number, offset = defaultOffset(container)): PortMapping => ({
  container,
  offset,
  protocol: "tcp",
});

test("block bases: env-1 is 10000, env-2 11000, the last block ends by 65535", () => {
  assert.equal(blockBase(0), 10000);
  assert.equal(blockBase(1), 11000);
  assert.equal(MAX_BLOCK, 54);
  assert.ok(blockBase(MAX_BLOCK) + BLOCK_SIZE - 1 <= 65535);
  assert.ok(BLOCK_START + BLOCK_SIZE * (MAX_BLOCK + 1) + BLOCK_SIZE - 1 > 65535);
  assert.throws(() => blockBase(MAX_BLOCK + 1), RangeError);
  assert.throws(() => blockBase(-1), RangeError);
  assert.throws(() => blockBase(1.5), RangeError);
});

test("default offset is the port modulo 1000", () => {
  assert.equal(defaultOffset(5432), 432);
  assert.equal(defaultOffset(8080), 80);
  assert.equal(defaultOffset(80), 80);
  assert.equal(defaultOffset(7000), 0);
});

test("resolveServices adds host ports without touching its input", () => {
  const services = [svc("db", [tcp(5432)]), svc("web", [tcp(8080), tcp(3000, 1)])];
  const resolved = resolveServices(services, blockBase(2));
  assert.deepEqual(
    resolved.map((s) => s.ports.map((p) => p.host)),
    [[12432], [12080, 12001]],
  );
  assert.equal("host" in services[0]!.ports[0]!, false);
  assert.deepEqual(hostPorts(services, 12000), [12432, 12080, 12001]);
});

test("hostPorts lists a host port once even when tcp and udp share it", () => {
  const dns = svc("dns", [tcp(53), { container: 53, offset: 53, protocol: "udp" }]);
  assert.deepEqual(hostPorts([dns], 10000), [10053]);
});

const portArb = fc.record({
  container: fc.integer({ min: 1, max: 65535 }),
  offset: fc.integer({ min: 0, max: 999 }),
  protocol: fc.constantFrom("tcp" as const, "udp" as const),
});
const servicesArb = fc
  .array(fc.array(portArb, { maxLength: 6 }), { maxLength: 6 })
  .map((lists) => lists.map((ports, i) => svc(`s${i}`, ports)));
const blockArb = fc.integer({ min: 0, max: MAX_BLOCK });

test("property: every host port is base + offset and stays inside the block", () => {
  fc.assert(
    fc.property(servicesArb, blockArb, (services, n) => {
      const base = blockBase(n);
      const resolved = resolveServices(services, base);
      assert.equal(resolved.length, services.length);
      resolved.forEach((s, i) => {
        assert.equal(s.ports.length, services[i]!.ports.length);
        s.ports.forEach((p, j) => {
          assert.equal(p.host, base + services[i]!.ports[j]!.offset);
          assert.ok(p.host >= base && p.host <= base + BLOCK_SIZE - 1 && p.host <= 65535);
        });
      });
    }),
  );
});

test("property: distinct offsets give distinct host ports", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 999 }), { maxLength: 40 }),
      blockArb,
      (offsets, n) => {
        const services = offsets.map((o, i) => svc(`s${i}`, [tcp(20000 + i, o)]));
        const hosts = resolveServices(services, blockBase(n)).flatMap((s) =>
          s.ports.map((p) => p.host),
        );
        assert.equal(new Set(hosts).size, offsets.length);
      },
    ),
  );
});

test("property: blocks of different n never overlap", () => {
  fc.assert(
    fc.property(blockArb, blockArb, (n, m) => {
      fc.pre(n !== m);
      const [a, b] = [blockBase(n), blockBase(m)];
      assert.ok(a + BLOCK_SIZE - 1 < b || b + BLOCK_SIZE - 1 < a);
    }),
  );
});

test("offset collision names both services and ports and suggests an explicit offset", () => {
  const issues = offsetCollisions([svc("temporal", [tcp(7233)]), svc("ui", [tcp(8233)])]);
  assert.deepEqual(issues, [
    {
      path: "services.ui.ports[0]",
      message:
        "host offset 233 (port 8233) collides with services.temporal port 7233; set an explicit offset",
    },
  ]);
  assert.deepEqual(
    offsetCollisions([svc("temporal", [tcp(7233)]), svc("ui", [tcp(8233, 234)])]),
    [],
  );
});

test("same offset on different protocols is not a collision; an explicit clash asks for another", () => {
  const udp: PortMapping = { container: 53, offset: 53, protocol: "udp" };
  assert.deepEqual(offsetCollisions([svc("dns", [tcp(53), udp])]), []);
  assert.deepEqual(offsetCollisions([svc("a", [tcp(80)]), svc("b", [tcp(3000, 80)])]), [
    {
      path: "services.b.ports[0]",
      message:
        "host offset 80 (port 3000) collides with services.a port 80; choose a different offset",
    },
  ]);
});

test("property: collisions are exactly the ports whose offset/protocol was already used", () => {
  fc.assert(
    fc.property(servicesArb, (services) => {
      const all = services.flatMap((s) => s.ports.map((p) => `${p.offset}/${p.protocol}`));
      assert.equal(offsetCollisions(services).length, all.length - new Set(all).size);
    }),
  );
});

function listen(host: string, port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;
const close = (s: net.Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

test("busyPorts reports ports held on 127.0.0.1 and 0.0.0.0, and not free ones", async () => {
  const loopback = await listen("127.0.0.1");
  const wildcard = await listen("0.0.0.0");
  const probe = await listen("127.0.0.1");
  const free = portOf(probe);
  await close(probe);
  try {
    const held = [portOf(loopback), portOf(wildcard)];
    assert.deepEqual(await busyPorts([free, ...held, held[0]!]), held);
    assert.deepEqual(await busyPorts([free]), []);
    // It closed what it opened: the free port can be taken right after.
    await close(await listen("0.0.0.0", free));
  } finally {
    await close(loopback);
    await close(wildcard);
  }
});

test("busyPorts rejects impossible ports", async () => {
  await assert.rejects(busyPorts([0]), RangeError);
  await assert.rejects(busyPorts([70000]), RangeError);
});

/** The browsers' list (Chrome's kRestrictedPorts, Firefox's gBadPortList), written out again. */
const BROWSER_UNSAFE = [
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
  103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
  512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
  995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
  6669, 6679, 6697, 10080,
];

test("UNSAFE_PORTS is the browsers' list, exactly", () => {
  assert.deepEqual(
    [...UNSAFE_PORTS].sort((a, b) => a - b),
    BROWSER_UNSAFE,
  );
});

test("unsafePorts: a tcp host port browsers refuse is a warning naming service and dot-path", () => {
  const services = [
    svc("db", [tcp(5432)]),
    svc("web", [tcp(3000, 0), tcp(8080)]),
    svc("dns", [{ container: 8053, offset: 80, protocol: "udp" }]),
  ];
  assert.deepEqual(unsafePorts(services, 0), [
    {
      path: "services.web.ports[1]",
      message:
        "host port 10080 (block 0 + 80) is refused by browsers (ERR_UNSAFE_PORT); set an offset",
    },
  ]);
  assert.deepEqual(unsafePorts(services, 1), [], "11080 is fine");
  const explicit = unsafePorts([svc("web", [tcp(3000, 80)])], 0);
  assert.match(explicit[0]!.message, /; choose another offset$/);
});

test("unsafePorts warns exactly for the host ports in the list (any block, any offset)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: MAX_BLOCK }),
      fc.integer({ min: 0, max: 999 }),
      (b, o) => {
        const hits = unsafePorts([svc("s", [tcp(1000 + o, o)])], b);
        assert.equal(hits.length, UNSAFE_PORTS.has(blockBase(b) + o) ? 1 : 0);
      },
    ),
  );
});
