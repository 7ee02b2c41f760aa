import { describe, expect, it } from "vitest";
import { grantLifetimeMs, windowCapacity } from "./window-capacity.ts";

describe("windowCapacity", () => {
  it("allows a slice's pro-rata share of the minute, rounded down", () => {
    expect(windowCapacity({ rpm: 600, tpm: 120_000 }, 1000, 20)).toMatchObject({
      requests: 10,
      tokens: 2000,
      windowMs: 1020,
    });
    // 500 RPM is 8.33 per second: a fixed-slice enforcer rejects the 9th.
    expect(windowCapacity({ rpm: 500, tpm: 0 }, 1000, 0).requests).toBe(8);
  });

  it("stretches the slice when a limit is too small for one request per slice", () => {
    const cap = windowCapacity({ rpm: 30, tpm: 40_000 }, 1000, 20);
    expect(cap.requests).toBe(1);
    expect(cap.windowMs).toBe(2020);
    expect(cap.tokens).toBe(1333);
  });

  it("treats 0 as unlimited", () => {
    expect(windowCapacity({ rpm: 0, tpm: 0 }, 1000, 20)).toMatchObject({
      requests: 0,
      tokens: 0,
      maxRequestTokens: 0,
    });
  });

  it("keeps a request bigger than a slice's tokens for as long as the minute rate needs", () => {
    const cap = windowCapacity({ rpm: 600, tpm: 120_000 }, 1000, 20);
    expect(grantLifetimeMs(cap, 1000)).toBe(1020);
    expect(grantLifetimeMs(cap, 6000)).toBe(3020); // 6000 tokens at 2000 tokens/s
  });
});
