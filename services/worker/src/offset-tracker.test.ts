import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OffsetTracker } from "./offset-tracker.ts";

describe("OffsetTracker", () => {
  it("commits only up to the lowest unfinished offset", () => {
    const t = new OffsetTracker();
    for (const o of ["10", "11", "12"]) t.track(0, o);
    t.finish(0, "12");
    t.finish(0, "11");
    expect(t.takeCommittable()).toEqual([]);
    t.finish(0, "10");
    expect(t.takeCommittable()).toEqual([{ partition: 0, offset: "13" }]);
    expect(t.takeCommittable()).toEqual([]);
  });

  it("keeps partitions apart", () => {
    const t = new OffsetTracker();
    t.track(0, "5");
    t.track(1, "7");
    t.finish(1, "7");
    expect(t.takeCommittable()).toEqual([{ partition: 1, offset: "8" }]);
    expect(t.unfinished()).toBe(1);
  });

  it("forgets lost partitions after a rebalance", () => {
    const t = new OffsetTracker();
    t.track(0, "1");
    t.track(1, "1");
    t.retainOnly([1]);
    t.finish(0, "1");
    t.finish(1, "1");
    expect(t.takeCommittable()).toEqual([{ partition: 1, offset: "2" }]);
  });

  it("remembers how far a partition got after compacting, so a refetch of old offsets is ignored", () => {
    const t = new OffsetTracker();
    for (let o = 0; o < 3000; o++) t.track(0, String(o));
    for (let o = 2999; o >= 0; o--) t.finish(0, String(o));
    expect(t.takeCommittable()).toEqual([{ partition: 0, offset: "3000" }]);
    expect(t.track(0, "500")).toBe(false);
    t.finish(0, "500");
    expect(t.takeCommittable()).toEqual([]);
    expect(t.track(0, "3000")).toBe(true);
  });

  it("a failed commit is offered again", () => {
    const t = new OffsetTracker();
    t.track(0, "0");
    t.finish(0, "0");
    const [c] = t.takeCommittable();
    t.untake(0, c?.offset ?? "");
    expect(t.takeCommittable()).toEqual([{ partition: 0, offset: "1" }]);
  });

  it("one record can stand for a range: finishing it commits past the whole range", () => {
    const t = new OffsetTracker();
    t.track(0, "10");
    expect(t.track(0, "11", "19")).toBe(true);
    t.track(0, "20");
    t.finish(0, "20");
    t.finish(0, "10");
    expect(t.takeCommittable()).toEqual([{ partition: 0, offset: "11" }]);
    t.finish(0, "11");
    expect(t.takeCommittable()).toEqual([{ partition: 0, offset: "21" }]);
    expect(t.unfinished()).toBe(0);
  });

  it("a refetch from inside a range already held is skipped, and what follows the range is tracked", () => {
    const t = new OffsetTracker();
    t.track(0, "5", "9");
    expect(t.track(0, "7", "9")).toBe(false);
    expect(t.track(0, "9")).toBe(false);
    expect(t.track(0, "10")).toBe(true);
    t.finish(0, "5");
    expect(t.takeCommittable()).toEqual([{ partition: 0, offset: "10" }]);
  });

  it("ranges and single records: never commits into or past an unfinished one, and ends past the last (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 120 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        (base, lengths, order) => {
          const t = new OffsetTracker();
          const segments: { first: number; last: number }[] = [];
          let at = base;
          for (const length of lengths) {
            segments.push({ first: at, last: at + length - 1 });
            at += length;
          }
          for (const s of segments)
            t.track(1, String(s.first), s.last > s.first ? String(s.last) : undefined);
          const unfinished = new Set(segments);
          let committed = base;
          const check = () => {
            for (const c of t.takeCommittable()) committed = Number(c.offset);
            // Everything below the committed offset is finished: no unfinished segment starts below it.
            for (const u of unfinished) if (u.first < committed) return false;
            return true;
          };
          for (const pick of order) {
            const s = segments[pick % segments.length] as { first: number; last: number };
            t.finish(1, String(s.first));
            unfinished.delete(s);
            if (!check()) return false;
          }
          for (const s of segments) t.finish(1, String(s.first));
          unfinished.clear();
          return check() && committed === at;
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never commits past an unfinished offset, whatever the finishing order (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.nat(), { maxLength: 400 }),
        (count, base, order) => {
          const t = new OffsetTracker();
          const offsets = Array.from({ length: count }, (_, i) => base + i);
          for (const o of offsets) t.track(3, String(o));
          const unfinished = new Set(offsets);
          // Finish a pseudo-random subset in a pseudo-random order.
          for (const pick of order) {
            const o = offsets[pick % offsets.length] as number;
            t.finish(3, String(o));
            unfinished.delete(o);
            for (const c of t.takeCommittable()) {
              const next = Number(c.offset);
              // Everything below the committed offset must be finished.
              for (const u of unfinished) if (u < next) return false;
            }
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});
