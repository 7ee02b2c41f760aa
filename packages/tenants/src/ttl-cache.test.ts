import { describe, expect, it } from "vitest";
import { TtlCache } from "./ttl-cache.ts";

describe("TtlCache", () => {
  it("serves a loaded value until its TTL ends, then loads again", async () => {
    let now = 0;
    let loads = 0;
    const cache = new TtlCache<number>({ ttlMs: 500, clock: () => now });
    const load = async () => ++loads;
    expect(await cache.get("k", load)).toBe(1);
    now = 499;
    expect(await cache.get("k", load)).toBe(1);
    now = 500;
    expect(await cache.get("k", load)).toBe(2);
  });

  it("shares one load between concurrent callers and forgets a failed one", async () => {
    let loads = 0;
    const cache = new TtlCache<number>({ ttlMs: 500 });
    const failing = () => {
      loads++;
      return Promise.reject(new Error("down"));
    };
    await Promise.allSettled([cache.get("k", failing), cache.get("k", failing)]);
    expect(loads).toBe(1);
    expect(await cache.get("k", async () => 7)).toBe(7);
  });

  it("never holds more than maxEntries", async () => {
    let loads = 0;
    const cache = new TtlCache<number>({ ttlMs: 10_000, maxEntries: 2 });
    const load = async () => ++loads;
    await cache.get("a", load);
    await cache.get("b", load);
    await cache.get("c", load);
    await cache.get("a", load);
    expect(loads).toBe(4);
  });
});
