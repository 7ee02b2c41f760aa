import { describe, expect, it } from "vitest";
import { costOf, defaultPriceTable, loadPriceTable, priceOf } from "./price-table.ts";

describe("prices as data", () => {
  it("ships a versioned table with input, cached input, output and batch discount", () => {
    const t = defaultPriceTable();
    expect(t.version).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(priceOf(t, "gpt-4o-mini")).toEqual({
      input: 0.15,
      cached_input: 0.075,
      output: 0.6,
      batch_discount: 0.5,
    });
    expect(priceOf(t, "gpt-4o-mini-2024-07-18")).toBe(priceOf(t, "gpt-4o-mini"));
  });

  it("prices cached prompt tokens and batch calls by their own rates", () => {
    const t = defaultPriceTable();
    const usage = { prompt_tokens: 1_000_000, completion_tokens: 1_000_000 };
    expect(costOf(t, "gpt-4o-mini", usage)).toBeCloseTo(0.75, 9);
    expect(costOf(t, "gpt-4o-mini", { ...usage, cachedPromptTokens: 1_000_000 })).toBeCloseTo(0.675, 9);
    expect(costOf(t, "gpt-4o-mini", { ...usage, batch: true })).toBeCloseTo(0.375, 9);
  });

  it("has no price (not a zero one) for a model it does not list", () => {
    expect(
      costOf(defaultPriceTable(), "my-finetune", { prompt_tokens: 10, completion_tokens: 10 }),
    ).toBeUndefined();
  });

  it("takes overrides from config and says so in the version", () => {
    const t = loadPriceTable(undefined, { models: { "my-finetune": { input: 1, output: 2 } } });
    expect(t.version).toMatch(/\+overrides$/);
    expect(costOf(t, "my-finetune", { prompt_tokens: 1_000_000, completion_tokens: 0 })).toBe(1);
    expect(loadPriceTable(undefined, { version: "contract-2027" }).version).toBe("contract-2027");
  });

  it("refuses a malformed price file with the field named", () => {
    expect(() => loadPriceTable("/nonexistent/prices.json")).toThrow(/cannot be read/);
  });
});
