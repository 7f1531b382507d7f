/** lib/core/dot-path.ts: the one formatter spec and host issues name their fields with. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { dotPath, valueAt } from "../../lib/core/dot-path";
import { validateNewHost } from "../../lib/hosts/validate";
import { parseSpecText } from "../../lib/spec/load";

test("dotPath: keys joined by dots, indexes in brackets, odd keys quoted", () => {
  assert.equal(dotPath(["services", "web", "ports", 0]), "services.web.ports[0]");
  assert.equal(dotPath(["devices", "gpus", 1, "name"]), "devices.gpus[1].name");
  assert.equal(dotPath(["env", "A B"]), 'env["A B"]');
  assert.equal(dotPath([0, "x"]), "[0].x");
  assert.equal(dotPath([]), "");
});

test("valueAt follows the same segments and stops outside the document", () => {
  const doc = { services: { web: { ports: [8080] } } };
  assert.equal(valueAt(doc, ["services", "web", "ports", 0]), 8080);
  assert.equal(valueAt(doc, ["services", "db", "ports"]), undefined);
  assert.equal(valueAt(doc, ["services", "web", "ports", 0, "x"]), undefined);
});

test("spec and host checks name an odd key the same way", () => {
  const devices = { cpu: { cores: 1, ramGb: 1, "odd key": 1 }, gpus: [] };
  const host = validateNewHost({ id: "a", host: "h", port: 1, devices }).issues;
  assert.deepEqual(
    host.map((i) => i.path),
    ['devices.cpu["odd key"]'],
  );
  const spec = parseSpecText("services:\n  web: { image: x, depends_on: { odd key: {} } }\n", {
    file: "/x/envctl.yaml",
  }).errors;
  assert.deepEqual(
    spec.map((i) => i.path),
    ['services.web.depends_on["odd key"]'],
  );
});
