import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect, it } from "vitest";
import { jsonSchemas, renderJsonSchema } from "./json-schema.ts";

it("the committed JSON Schema files match the zod schemas (run `pnpm --filter @chatq/contracts schema`)", () => {
  for (const [file, schema] of Object.entries(jsonSchemas())) {
    const committed = readFileSync(resolve(import.meta.dirname, "../schema", file), "utf8");
    expect(committed, file).toBe(renderJsonSchema(schema));
  }
});
