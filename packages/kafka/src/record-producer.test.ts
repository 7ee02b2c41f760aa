import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { retryFor } from "./record-producer.ts";

/** The delays kafkajs's retrier waits between attempts, without its jitter: doubling, capped per step. */
function delays(r: ReturnType<typeof retryFor>): number[] {
  const out: number[] = [];
  for (let i = 0, step = r.initialRetryTime; i < r.retries; i++, step = Math.min(step * 2, r.maxRetryTime)) {
    out.push(step);
  }
  return out;
}

describe("retryFor: a producer that gives up after about the time asked", () => {
  it("keeps retrying at least that long, and not a step longer", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 120_000 }), (ms) => {
        const r = retryFor(ms);
        const total = delays(r).reduce((a, b) => a + b, 0);
        expect(total).toBeGreaterThanOrEqual(ms);
        expect(total).toBeLessThan(ms + r.maxRetryTime);
      }),
    );
  });

  it("a 5 s publish timeout retries every second at most", () => {
    expect(retryFor(5_000)).toMatchObject({ initialRetryTime: 100, maxRetryTime: 1_000 });
  });
});
