import { describe, expect, it } from "vitest";
import { RateLimiter, rateLimitHeaders } from "./rate-limiter.ts";

function limiter(limits: Record<string, { rpm?: number; tpm?: number }>, sliceMs = 60_000) {
  const clock = { now: 0 };
  const rl = new RateLimiter({ limitsFor: (model) => limits[model] ?? {}, sliceMs, now: () => clock.now });
  return { rl, clock };
}

describe("RateLimiter", () => {
  it("enforces RPM over 1-second slices when limitSliceMs is 1000", () => {
    const { rl, clock } = limiter({ m: { rpm: 600 } }, 1000);
    let admitted = 0;
    for (let i = 0; i < 20; i++) if (rl.admit("m", 0).admitted) admitted++;
    expect(admitted).toBe(10);
    const rejected = rl.admit("m", 0);
    expect(rejected).toMatchObject({
      admitted: false,
      kind: "requests",
      limit: 600,
      used: 600,
      retryAfterMs: 100,
    });
    clock.now = 100;
    expect(rl.admit("m", 0).admitted).toBe(true);
  });

  it("reports per-minute remaining like OpenAI even while the current slice is spent", () => {
    const { rl } = limiter({ m: { rpm: 600 } }, 1000);
    for (let i = 0; i < 10; i++) rl.admit("m", 0);
    const rejected = rl.admit("m", 0);
    expect(rejected.admitted).toBe(false);
    expect(rejected.state.requests).toEqual({ limit: 600, remaining: 590, resetMs: 1000 });
  });

  it("charges tokens at arrival and rejects on TPM without charging RPM", () => {
    const { rl } = limiter({ m: { rpm: 10, tpm: 1000 } });
    expect(rl.admit("m", 600)).toMatchObject({
      admitted: true,
      state: { requests: { limit: 10, remaining: 9 }, tokens: { limit: 1000, remaining: 400 } },
    });
    const second = rl.admit("m", 600);
    expect(second).toMatchObject({
      admitted: false,
      kind: "tokens",
      requested: 600,
      used: 600,
      tooLarge: false,
    });
    // 200 tokens missing at 1000/60000 per ms.
    expect(second.admitted === false && second.retryAfterMs).toBe(12_000);
    expect(rl.state("m").requests?.remaining).toBe(9);
  });

  it("rejects a request larger than the whole per-minute budget as too large", () => {
    const { rl } = limiter({ m: { tpm: 1000 } });
    expect(rl.admit("m", 1001)).toMatchObject({
      admitted: false,
      kind: "tokens",
      tooLarge: true,
      limit: 1000,
    });
  });

  it("keeps one budget per model, and none for unlimited ones", () => {
    const { rl } = limiter({ a: { rpm: 1 }, b: { rpm: 1 } });
    expect(rl.admit("a", 0).admitted).toBe(true);
    expect(rl.admit("a", 0).admitted).toBe(false);
    expect(rl.admit("b", 0).admitted).toBe(true);
    for (let i = 0; i < 100; i++) expect(rl.admit("free", 1e6).admitted).toBe(true);
    expect(rl.state("free")).toEqual({});
  });

  it("reset refills every bucket", () => {
    const { rl } = limiter({ a: { rpm: 1 } });
    rl.admit("a", 0);
    rl.reset();
    expect(rl.admit("a", 0).admitted).toBe(true);
  });

  it("renders OpenAI's x-ratelimit-* headers", () => {
    const { rl, clock } = limiter({ m: { rpm: 60, tpm: 6000 } });
    rl.admit("m", 1500);
    clock.now = 500;
    expect(rateLimitHeaders(rl.state("m"))).toEqual({
      "x-ratelimit-limit-requests": "60",
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-reset-requests": "500ms",
      "x-ratelimit-limit-tokens": "6000",
      "x-ratelimit-remaining-tokens": "4550",
      "x-ratelimit-reset-tokens": "14.5s",
    });
  });
});
