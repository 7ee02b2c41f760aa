import type { ModelLimits } from "./limiter-types.ts";

/**
 * What one model may use inside one sliding window. Both the pure-TS budget and the Redis
 * script read the same numbers, computed here once.
 */
export interface WindowCapacity {
  /** Grants (requests) allowed per window; 0 = unlimited. */
  requests: number;
  /** Tokens allowed per window; 0 = unlimited. */
  tokens: number;
  /** How long a grant stays in the window: the enforcement slice plus the jitter margin. */
  windowMs: number;
  /** A request larger than `tokens` is charged at the minute rate for this long per token (0 = unlimited). */
  msPerToken: number;
  /** Largest request ever allowed (OpenAI answers "request too large" above a minute's TPM); 0 = unlimited. */
  maxRequestTokens: number;
  marginMs: number;
}

const MINUTE_MS = 60_000;

/**
 * Turns per-minute limits into a per-slice window.
 *
 * OpenAI may enforce a minute's limit over shorter slices (the fake uses 1 s), so the window
 * allows at most limit × slice / 60 000 per slice, rounded down: a fixed-slice enforcer rounds
 * down too, and rounding up would put one request too many in some slices. A limit too small for
 * one request per slice (RPM 30 with 1 s slices) stretches the slice so exactly one fits.
 *
 * The margin widens the window beyond the slice because a grant reaches the API a few ms after
 * Redis decided it, with jitter; without it two bursts one slice apart can land in one slice.
 */
export function windowCapacity(limits: ModelLimits, sliceMs: number, marginMs: number): WindowCapacity {
  let slice = sliceMs;
  if (limits.rpm > 0) slice = Math.max(slice, Math.ceil(MINUTE_MS / limits.rpm));
  if (limits.tpm > 0) slice = Math.max(slice, Math.ceil(MINUTE_MS / limits.tpm));
  const perSlice = (perMinute: number) =>
    perMinute > 0 ? Math.floor((perMinute * slice) / MINUTE_MS + 1e-9) : 0;
  return {
    requests: perSlice(limits.rpm),
    tokens: perSlice(limits.tpm),
    windowMs: slice + marginMs,
    msPerToken: limits.tpm > 0 ? MINUTE_MS / limits.tpm : 0,
    maxRequestTokens: Math.max(limits.tpm, 0),
    marginMs,
  };
}

/**
 * How long a grant of `tokens` stays in the window. Normally one window; a request larger than a
 * slice's token budget is let through alone (see SlidingWindowBudget) and stays as long as the
 * minute rate needs to pay it back, so a stream of them still respects TPM.
 */
export function grantLifetimeMs(cap: WindowCapacity, tokens: number): number {
  if (cap.tokens > 0 && tokens > cap.tokens) {
    return Math.max(cap.windowMs, Math.ceil(tokens * cap.msPerToken) + cap.marginMs);
  }
  return cap.windowMs;
}
