import { describe, expect, it } from "vitest";
import { historyLimit } from "./history.ts";

describe("historyLimit", () => {
  it("no limit means all turns (LIMIT NULL)", () => expect(historyLimit(undefined)).toBeNull());
  it("passes a whole number through", () => expect(historyLimit(20)).toBe(20));
  it.each([-1, 1.5, Number.NaN])("refuses %s", (n) => expect(() => historyLimit(n)).toThrow(RangeError));
});
