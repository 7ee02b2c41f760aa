// Writes packages/contracts/schema/*.json from the zod schemas: `pnpm --filter @chatq/contracts schema`.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { jsonSchemas, renderJsonSchema } from "./json-schema.ts";

const dir = resolve(import.meta.dirname, "../schema");
for (const [file, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(resolve(dir, file), renderJsonSchema(schema));
  console.log(`wrote ${resolve(dir, file)}`);
}
