import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { loadPolicyBook, PolicyError, policyBook } from "./policy.ts";

test("a tenant's override is merged over the default, other tenants get the default", () => {
  const book = policyBook({
    default: { moderation: { enabled: true }, topics: { health: "disclaim" } },
    tenants: { acme: { moderation: { onOutage: "fail_open" }, topics: { finance: "refuse" } } },
  });
  expect(book.of("acme").moderation).toMatchObject({ enabled: true, onOutage: "fail_open" });
  expect(book.of("acme").topics).toEqual({ health: "disclaim", finance: "refuse" });
  expect(book.of("other").moderation.onOutage).toBe("fail_closed");
  expect(book.of(undefined).pii.operator).toBe("reversible");
});

test("a bad override is refused at load, naming its tenant", () => {
  expect(() => policyBook({ tenants: { acme: { topics: { health: "maybe" } } } })).toThrow(/tenant acme/);
  expect(() => policyBook({ default: { pii: { custom: [{ entity: "X", pattern: "(" }] } } })).toThrow(
    PolicyError,
  );
});

test("YAML and JSON files are read by their extension", () => {
  const dir = mkdtempSync(join(tmpdir(), "guardrails-"));
  writeFileSync(join(dir, "p.yaml"), "default:\n  injection:\n    action: block\n");
  writeFileSync(join(dir, "p.json"), JSON.stringify({ default: { language: { fixed: "es" } } }));
  expect(loadPolicyBook(join(dir, "p.yaml")).of("x").injection.action).toBe("block");
  expect(loadPolicyBook(join(dir, "p.json")).of("x").language.fixed).toBe("es");
  expect(() => loadPolicyBook(join(dir, "missing.json"))).toThrow(PolicyError);
});
