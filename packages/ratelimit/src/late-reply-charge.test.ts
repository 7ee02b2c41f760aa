import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lateReplyCharge } from "./late-reply-charge.ts";

const d = { capacity: 10, perMs: 10 / 1020 };

describe("lateReplyCharge", () => {
  it("charges nothing while the bucket runs low, and nothing without a limit", () => {
    expect(lateReplyCharge(d, 2, 2, 50)).toBe(0);
    expect(lateReplyCharge(undefined, 10, 5, 10_000)).toBe(0);
  });

  it("a reply held up 10 s (Redis down, the command queued) charges no more than what was granted", () => {
    expect(lateReplyCharge(d, 10, 1, 10_000)).toBe(1);
  });

  it("is exactly the gap between our bucket and the API's after the late arrival", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 10 }),
        fc.double({ min: 0, max: 60_000, noNaN: true }),
        (level, grantedWanted, lateMs) => {
          const granted = Math.min(grantedWanted, Math.floor(level));
          const refill = d.perMs * lateMs;
          const ours = Math.min(d.capacity, level - granted + refill);
          const api = Math.min(d.capacity, level + refill) - granted;
          const charge = lateReplyCharge(d, level, granted, lateMs);
          expect(charge).toBeGreaterThanOrEqual(0);
          expect(charge).toBeLessThanOrEqual(granted);
          expect(ours - charge).toBeCloseTo(api, 9);
        },
      ),
    );
  });
});
