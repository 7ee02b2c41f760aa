import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_OUTAGE_THRESHOLDS, OutageDetector } from "./outage-detector.ts";

describe("OutageDetector", () => {
  it("five failures in a row are an outage; a success in between is not", () => {
    const d = new OutageDetector();
    for (let i = 0; i < 4; i++) d.record(false, i);
    expect(d.isOutage(4)).toBe(false);
    d.record(true, 5);
    for (let i = 0; i < 4; i++) d.record(false, 6 + i);
    expect(d.isOutage(10)).toBe(false);
    d.record(false, 11);
    expect(d.isOutage(11)).toBe(true);
  });

  it("half the calls failing over the window is an outage even without a run of five", () => {
    const d = new OutageDetector();
    for (let i = 0; i < 20; i++) d.record(i % 2 === 0, i * 10);
    expect(d.isOutage(200)).toBe(true);
  });

  it("the window forgets: old failures do not count", () => {
    const d = new OutageDetector();
    for (let i = 0; i < 20; i++) d.record(i % 2 === 0, i);
    expect(d.isOutage(DEFAULT_OUTAGE_THRESHOLDS.windowMs + 100)).toBe(false);
  });

  it("an occasional failure among many successes is never an outage", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 500 }), (gaps) => {
        const d = new OutageDetector();
        let t = 0;
        // At most one failure in every five calls, never two in a row: under both thresholds.
        for (const g of gaps) {
          for (let i = 0; i < 4; i++) {
            t += 1;
            d.record(true, t);
          }
          if (g) {
            t += 1;
            d.record(false, t);
          }
          if (d.isOutage(t)) return false;
        }
        return true;
      }),
    );
  });
});
