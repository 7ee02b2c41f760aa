import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.ts";

describe("TokenBucket", () => {
  it("starts full, empties, and refills continuously", () => {
    const bucket = new TokenBucket(10, 1000, 0);
    for (let i = 0; i < 10; i++) {
      expect(bucket.check(1, 0).admitted).toBe(true);
      bucket.take(1, 0);
    }
    expect(bucket.check(1, 0)).toEqual({ admitted: false, retryAfterMs: 100 });
    expect(bucket.check(1, 99).admitted).toBe(false);
    expect(bucket.check(1, 100).admitted).toBe(true);
    expect(bucket.level(1000)).toBe(10);
    expect(bucket.level(5000)).toBe(10);
  });

  it("reports the time until full", () => {
    const bucket = new TokenBucket(600, 60_000, 0);
    bucket.take(300, 0);
    expect(bucket.msUntilFull(0)).toBe(30_000);
    expect(bucket.msUntilFull(30_000)).toBe(0);
  });

  it("admits a cost larger than the bucket once full, then makes it pay the debt back", () => {
    const bucket = new TokenBucket(100, 1000, 0);
    expect(bucket.check(250, 0).admitted).toBe(true);
    bucket.take(250, 0);
    expect(bucket.level(0)).toBe(-150);
    // Needs a full bucket again: 250 units of refill at 0.1/ms.
    expect(bucket.check(250, 0)).toEqual({ admitted: false, retryAfterMs: 2500 });
    expect(bucket.check(250, 2500).admitted).toBe(true);
  });

  it("waiting the advertised retryAfterMs is always enough", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 0, max: 500 })), {
          maxLength: 40,
        }),
        (capacity, windowMs, steps) => {
          const bucket = new TokenBucket(capacity, windowMs, 0);
          let now = 0;
          for (const [cost, advance] of steps) {
            now += advance;
            const decision = bucket.check(cost, now);
            if (!decision.admitted) {
              now += decision.retryAfterMs;
              expect(bucket.check(cost, now).admitted).toBe(true);
            }
            bucket.take(cost, now);
          }
        },
      ),
    );
  });

  it("never grants more than capacity plus what refilled, for requests that fit the bucket", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 100, max: 60_000 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 200 })), {
          maxLength: 200,
        }),
        (capacity, windowMs, steps) => {
          const bucket = new TokenBucket(capacity, windowMs, 0);
          let now = 0;
          let granted = 0;
          for (const [rawCost, advance] of steps) {
            const cost = Math.min(rawCost, capacity);
            now += advance;
            if (bucket.check(cost, now).admitted) {
              bucket.take(cost, now);
              granted += cost;
            }
          }
          expect(granted).toBeLessThanOrEqual(capacity + (now * capacity) / windowMs + 1e-6);
        },
      ),
    );
  });
});
