import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  budgetPerSecond,
  DEFAULT_IN_FLIGHT_TARGET,
  InFlightTargetEstimator,
  inFlightTarget,
} from "./in-flight-target.ts";

const settings = { ...DEFAULT_IN_FLIGHT_TARGET, max: 2_000 };

describe("inFlightTarget", () => {
  it("holds what a 30,000 RPM budget needs at 1 s per call, with headroom: more than 500", () => {
    const target = inFlightTarget(
      [{ budgetPerSecond: budgetPerSecond(30_000), latencyMs: 1_000, observedPerSecond: 0 }],
      settings,
    );
    expect(target).toBe(1_000);
  });

  it("never exceeds the configured maximum, however large the budget or slow the API", () => {
    const target = inFlightTarget(
      [{ budgetPerSecond: budgetPerSecond(600_000), latencyMs: 30_000, observedPerSecond: 0 }],
      settings,
    );
    expect(target).toBe(2_000);
  });

  it("holds few for a small budget, but never fewer than the minimum", () => {
    const target = inFlightTarget(
      [{ budgetPerSecond: budgetPerSecond(600), latencyMs: 300, observedPerSecond: 10 }],
      settings,
    );
    expect(target).toBe(DEFAULT_IN_FLIGHT_TARGET.min);
  });

  it("adds up the models in use", () => {
    const one = { budgetPerSecond: budgetPerSecond(12_000), latencyMs: 1_000, observedPerSecond: 0 };
    expect(inFlightTarget([one, one], settings)).toBe(2 * inFlightTarget([one], settings));
  });

  it("without a budget, grows past what it observed, so a concurrency that was the limit is not kept", () => {
    const observed = { budgetPerSecond: Number.POSITIVE_INFINITY, latencyMs: 50, observedPerSecond: 1_000 };
    // 1,000/s × 50 ms = 50 in use; the target leaves room for twice the rate, and the headroom on that.
    expect(inFlightTarget([observed], settings)).toBe(200);
  });

  it("before any call is observed, the maximum (the hand-set behaviour)", () => {
    expect(inFlightTarget([], settings)).toBe(2_000);
  });

  it("is always within [min, max] (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            budgetPerSecond: fc.oneof(
              fc.double({ min: 0, max: 1e7, noNaN: true }),
              fc.constant(Number.POSITIVE_INFINITY),
            ),
            latencyMs: fc.double({ min: -10, max: 1e7, noNaN: true }),
            observedPerSecond: fc.double({ min: 0, max: 1e7, noNaN: true }),
          }),
          { maxLength: 5 },
        ),
        fc.integer({ min: 1, max: 100_000 }),
        (models, max) => {
          const s = { ...settings, max, min: Math.min(settings.min, max) };
          const t = inFlightTarget(models, s);
          expect(Number.isInteger(t)).toBe(true);
          expect(t).toBeGreaterThanOrEqual(s.min);
          expect(t).toBeLessThanOrEqual(max);
        },
      ),
    );
  });

  it("never holds less than the budget keeps busy (rate × latency) unless capped (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        (rpm, latencyMs) => {
          const rate = budgetPerSecond(rpm);
          const t = inFlightTarget([{ budgetPerSecond: rate, latencyMs, observedPerSecond: 0 }], settings);
          expect(t).toBeGreaterThanOrEqual(Math.min(settings.max, Math.ceil((rate * latencyMs) / 1000)));
        },
      ),
    );
  });
});

describe("InFlightTargetEstimator", () => {
  it("follows the API's latency and forgets a model that is no longer called", () => {
    let now = 0;
    const est = new InFlightTargetEstimator(
      settings,
      () => budgetPerSecond(30_000),
      () => now,
    );
    expect(est.target()).toBe(2_000);
    for (let i = 0; i < 500; i++) {
      now += 2;
      est.observe("gpt-4o-mini", 1_000);
    }
    expect(est.target()).toBe(1_000);
    // The API slows to 2 s: the target follows the moving average up.
    for (let i = 0; i < 500; i++) {
      now += 2;
      est.observe("gpt-4o-mini", 2_000);
    }
    expect(est.target()).toBeGreaterThan(1_900);
    now += DEFAULT_IN_FLIGHT_TARGET.idleAfterMs + 1;
    expect(est.target()).toBe(2_000);
  });

  it("measures the observed rate of an unlimited model over its window", () => {
    let now = 0;
    const est = new InFlightTargetEstimator(
      settings,
      () => budgetPerSecond(0),
      () => now,
    );
    // 200 calls/s of 100 ms for 2 s: 20 in use; twice the rate with 100 % headroom is 80.
    for (let i = 0; i < 400; i++) {
      now += 5;
      est.observe("m", 100);
    }
    expect(est.target()).toBe(80);
  });
});
