import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatOpenAIDuration, parseOpenAIDuration } from "./duration-format.ts";

describe("OpenAI duration format", () => {
  it.each([
    [0, "0s"],
    [-5, "0s"],
    [0.2, "1ms"],
    [120, "120ms"],
    [999, "999ms"],
    [1000, "1s"],
    [1500, "1.5s"],
    [8640, "8.64s"],
    [20_005, "20.005s"],
    [59_999, "59.999s"],
    [60_000, "1m0s"],
    [360_000, "6m0s"],
    [61_500, "1m1.5s"],
    [3_723_000, "1h2m3s"],
  ])("%d ms prints as %s", (ms, text) => {
    expect(formatOpenAIDuration(ms)).toBe(text);
  });

  it("parses what it prints back to the same whole milliseconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 * 3_600_000 }), (ms) => {
        expect(parseOpenAIDuration(formatOpenAIDuration(ms))).toBe(ms);
      }),
    );
  });

  it("rejects text that is not a duration", () => {
    expect(parseOpenAIDuration("")).toBeUndefined();
    expect(parseOpenAIDuration("soon")).toBeUndefined();
    expect(parseOpenAIDuration("5 s")).toBeUndefined();
  });
});
