import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LruCache } from "./lru-cache.ts";

describe("LruCache", () => {
  it("never holds more than its bound, and keeps the most recently used", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 20 })), (max, keys) => {
        const c = new LruCache<number, number>(max);
        for (const k of keys) c.set(k, k);
        expect(c.size).toBeLessThanOrEqual(max);
        const last = keys.at(-1);
        if (last !== undefined) expect(c.get(last)).toBe(last);
      }),
    );
  });

  it("a hit makes an entry the newest", () => {
    const c = new LruCache<string, number>(2);
    c.set("a", 1);
    c.set("b", 2);
    c.get("a");
    c.set("c", 3);
    expect(c.get("a")).toBe(1);
    expect(c.get("b")).toBeUndefined();
  });
});
