import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect, it } from "vitest";
import { renderOpenApi } from "./openapi.ts";

it("the committed openapi.json is the one the schemas generate (else: pnpm --filter @chatq/gateway openapi)", () => {
  const committed = readFileSync(resolve(import.meta.dirname, "../openapi.json"), "utf8");
  expect(committed).toBe(renderOpenApi());
});
