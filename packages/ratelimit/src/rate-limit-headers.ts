import type { RateLimitObservation } from "./limiter-types.ts";

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(h: HeaderSource, name: string): string | undefined {
  if (h instanceof Headers) return h.get(name) ?? undefined;
  for (const [k, v] of Object.entries(h)) {
    if (k.toLowerCase() !== name) continue;
    return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

function count(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  µs: 1e-3,
  ns: 1e-6,
};

/**
 * OpenAI's reset headers are Go durations: "1s", "6m0s", "120ms", "1.5s", "1h2m3.4s". A bare number
 * is taken as seconds. Anything else is undefined rather than a guess.
 */
export function parseDurationMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const part = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/y;
  let ms = 0;
  let at = 0;
  while (at < v.length) {
    part.lastIndex = at;
    const m = part.exec(v);
    if (m === null) return undefined;
    ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    at = part.lastIndex;
  }
  return ms;
}

export function parseRateLimitHeaders(h: HeaderSource): RateLimitObservation {
  const o: RateLimitObservation = {};
  const set = (key: keyof RateLimitObservation, value: number | undefined) => {
    if (value !== undefined) o[key] = value;
  };
  set("limitRequests", count(header(h, "x-ratelimit-limit-requests")));
  set("limitTokens", count(header(h, "x-ratelimit-limit-tokens")));
  set("remainingRequests", count(header(h, "x-ratelimit-remaining-requests")));
  set("remainingTokens", count(header(h, "x-ratelimit-remaining-tokens")));
  set("resetRequestsMs", parseDurationMs(header(h, "x-ratelimit-reset-requests")));
  set("resetTokensMs", parseDurationMs(header(h, "x-ratelimit-reset-tokens")));
  return o;
}

/**
 * How long a 429 (or 503) asks us to wait: retry-after-ms (OpenAI's precise one), else retry-after
 * in seconds or as an HTTP date. undefined when absent or unreadable.
 */
export function parseRetryAfter(h: HeaderSource, now: number = Date.now()): number | undefined {
  const ms = count(header(h, "retry-after-ms"));
  if (ms !== undefined) return ms;
  const value = header(h, "retry-after");
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = count(value);
  if (seconds !== undefined) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
