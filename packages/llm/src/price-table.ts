import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";

const perM = z.number().min(0).max(10_000);
export const ModelPriceSchema = z
  .object({
    input: perM,
    /** Prompt tokens served from the prompt cache; absent: the input price. */
    cached_input: perM.optional(),
    output: perM,
    /** Fraction taken off by the Batch API (0.5 = half price); absent: none. */
    batch_discount: z.number().min(0).max(1).optional(),
  })
  .strict();

export const PriceTableSchema = z
  .object({
    /** Recorded on every usage row: which prices a stored cost was computed with. */
    version: z.string().min(1).max(64),
    source: z.string().optional(),
    models: z.record(z.string().min(1), ModelPriceSchema),
  })
  .strict();

export type ModelPrice = z.infer<typeof ModelPriceSchema>;
export type PriceTable = z.infer<typeof PriceTableSchema>;

export class PriceTableError extends Error {
  override readonly name = "PriceTableError";
  readonly code = "invalid_price_table";
  readonly retryable = false;
}

/** The price file shipped with chatq (packages/llm/prices/prices.json). */
export const DEFAULT_PRICES_FILE = resolve(import.meta.dirname, "../prices/prices.json");

/**
 * Reads a price file; `overrides` (from config) replace whole model entries and, when given, the version, so a
 * stored cost always names the prices it was computed with.
 */
export function loadPriceTable(
  path: string = DEFAULT_PRICES_FILE,
  overrides?: { version?: string | undefined; models?: Record<string, ModelPrice> | undefined },
): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new PriceTableError(`price file ${path} cannot be read as JSON: ${(err as Error).message}`);
  }
  const parsed = PriceTableSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new PriceTableError(`price file ${path} refused: ${problems}`);
  }
  const table = parsed.data;
  if (overrides?.models === undefined && overrides?.version === undefined) return table;
  return {
    ...table,
    version: overrides.version ?? `${table.version}+overrides`,
    models: { ...table.models, ...overrides.models },
  };
}

/** A model's price: its own entry, else its family's (a dated snapshot "gpt-4o-mini-2024-07-18": longest prefix). */
export function priceOf(table: PriceTable, model: string): ModelPrice | undefined {
  const exact = table.models[model];
  if (exact) return exact;
  const family = Object.keys(table.models)
    .filter((name) => model.startsWith(`${name}-`))
    .sort((a, b) => b.length - a.length)[0];
  return family === undefined ? undefined : table.models[family];
}

export interface PricedUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Of prompt_tokens, those served from the cache. */
  cachedPromptTokens?: number;
  batch?: boolean;
}

/** USD for one call, or undefined when the model has no price (stored as null: 0 would claim it was free). */
export function costOf(table: PriceTable, model: string, usage: PricedUsage): number | undefined {
  const p = priceOf(table, model);
  if (p === undefined) return undefined;
  const cached = Math.min(usage.cachedPromptTokens ?? 0, usage.prompt_tokens);
  const fresh = usage.prompt_tokens - cached;
  const full = fresh * p.input + cached * (p.cached_input ?? p.input) + usage.completion_tokens * p.output;
  const discount = usage.batch ? (p.batch_discount ?? 0) : 0;
  return (full * (1 - discount)) / 1_000_000;
}

let defaultTable: PriceTable | undefined;
/** The shipped table, read once. */
export function defaultPriceTable(): PriceTable {
  defaultTable ??= loadPriceTable();
  return defaultTable;
}
