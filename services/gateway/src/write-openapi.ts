// `pnpm --filter @chatq/gateway openapi`: regenerates the committed openapi.json from the zod schemas.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { renderOpenApi } from "./openapi.ts";

writeFileSync(resolve(import.meta.dirname, "../openapi.json"), renderOpenApi());
