import { describe, expect, it } from "vitest";
import { bucketShape } from "./bucket-shape.ts";

describe("bucketShape", () => {
  it("holds a slice's pro-rata share of the minute and refills it over the slice plus the margin", () => {
    const shape = bucketShape({ rpm: 600, tpm: 120_000 }, 1000, 20);
    expect(shape.requests?.capacity).toBe(10);
    expect(shape.requests?.perMs).toBeCloseTo(10 / 1020, 12);
    expect(shape.tokens?.capacity).toBe(2000);
    expect(shape.tokens?.perMs).toBeCloseTo(2000 / 1020, 12);
    expect(shape.maxRequestTokens).toBe(120_000);
  });

  it("keeps fractional capacities (less than one request per slice) as the API does", () => {
    expect(bucketShape({ rpm: 30, tpm: 0 }, 1000, 0).requests).toEqual({ capacity: 0.5, perMs: 0.0005 });
  });

  it("treats 0 as unlimited", () => {
    expect(bucketShape({ rpm: 0, tpm: 0 }, 1000, 20)).toEqual({
      requests: undefined,
      tokens: undefined,
      maxRequestTokens: 0,
    });
  });
});
