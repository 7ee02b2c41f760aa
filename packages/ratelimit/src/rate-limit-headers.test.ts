import { describe, expect, it } from "vitest";
import { parseDurationMs, parseRateLimitHeaders, parseRetryAfter } from "./rate-limit-headers.ts";

describe("parseDurationMs", () => {
  it.each([
    ["1s", 1000],
    ["6m0s", 360_000],
    ["120ms", 120],
    ["1.5s", 1500],
    ["1h2m3.5s", 3_723_500],
    ["0s", 0],
    ["250us", 0.25],
    ["2", 2000],
  ])("reads OpenAI's %s as %d ms", (text, ms) => {
    expect(parseDurationMs(text)).toBeCloseTo(ms, 6);
  });

  it.each(["", "soon", "1x", "-1s", "1s garbage"])("refuses %j", (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe("parseRateLimitHeaders", () => {
  const expected = {
    limitRequests: 500,
    limitTokens: 30_000,
    remainingRequests: 499,
    remainingTokens: 29_020,
    resetRequestsMs: 120,
    resetTokensMs: 1960,
  };

  it("reads every x-ratelimit-* header from a fetch Headers", () => {
    const h = new Headers({
      "x-ratelimit-limit-requests": "500",
      "x-ratelimit-limit-tokens": "30000",
      "x-ratelimit-remaining-requests": "499",
      "x-ratelimit-remaining-tokens": "29020",
      "x-ratelimit-reset-requests": "120ms",
      "x-ratelimit-reset-tokens": "1.96s",
    });
    expect(parseRateLimitHeaders(h)).toEqual(expected);
  });

  it("reads a plain record whatever the header case, and leaves out what is missing or garbled", () => {
    expect(
      parseRateLimitHeaders({
        "X-RateLimit-Remaining-Requests": "7",
        "x-ratelimit-remaining-tokens": "lots",
        "x-ratelimit-reset-tokens": undefined,
      }),
    ).toEqual({ remainingRequests: 7 });
  });
});

describe("parseRetryAfter", () => {
  it("prefers OpenAI's retry-after-ms", () => {
    expect(parseRetryAfter({ "retry-after-ms": "1500", "retry-after": "2" })).toBe(1500);
  });

  it("reads retry-after as seconds", () => {
    expect(parseRetryAfter(new Headers({ "retry-after": "2" }))).toBe(2000);
  });

  it("reads retry-after as an HTTP date", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter({ "retry-after": "Wed, 01 Jan 2025 00:00:03 GMT" }, now)).toBe(3000);
    expect(parseRetryAfter({ "retry-after": "Tue, 31 Dec 2024 23:59:00 GMT" }, now)).toBe(0);
  });

  it("is undefined when absent or unreadable", () => {
    expect(parseRetryAfter({})).toBeUndefined();
    expect(parseRetryAfter({ "retry-after": "whenever" })).toBeUndefined();
  });
});
