/** `{{...}}` templates: the literal-brace reference the compose import writes for Go templates. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkTemplate,
  LITERAL_BRACES,
  renderTemplate,
  type TemplateContext,
} from "../../lib/spec/template";

const ctx: TemplateContext = {
  name: "demo",
  block: 1,
  base: 11000,
  home: "/h",
  worktree: "/w",
  branch: "demo-workspace",
  state_dir: "/s",
  ports: { db: [[5432, 11432]] },
};

test("{{lbrace}} is a literal {{ next to real references", () => {
  const text = `${LITERAL_BRACES}.Name}} on {{ports.db}} for {{name}}`;
  const services = [{ name: "db", ports: [{ container: 5432, offset: 432, protocol: "tcp" }] }];
  assert.equal(
    checkTemplate(text, { services } as unknown as Parameters<typeof checkTemplate>[1]),
    undefined,
  );
  assert.equal(renderTemplate(text, ctx), "{{.Name}} on 11432 for demo");
});

test("a bare {{ is still an error", () => {
  assert.match(checkTemplate("{{.Name}}", { services: [] as never[] }) ?? "", /unknown reference/);
});
