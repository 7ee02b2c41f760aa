import { formatOpenAIDuration } from "./duration-format.ts";
import { TokenBucket } from "./token-bucket.ts";

/** Per-minute limits of one model; 0 or undefined means unlimited. */
export interface ModelLimits {
  rpm?: number | undefined;
  tpm?: number | undefined;
}

export type LimitKind = "requests" | "tokens";

export interface DimensionState {
  /** The per-minute limit, as OpenAI reports it. */
  limit: number;
  /** Left of the per-minute limit (OpenAI's accounting; the current slice may still be spent). */
  remaining: number;
  /** Time until the per-minute budget is whole again. */
  resetMs: number;
}

/** What the x-ratelimit-* headers report; a dimension is absent when it is unlimited. */
export interface RateLimitState {
  requests?: DimensionState;
  tokens?: DimensionState;
}

export type Admission =
  | { admitted: true; state: RateLimitState }
  | {
      admitted: false;
      kind: LimitKind;
      /** The request alone exceeds the per-minute limit: waiting will never help (OpenAI's "Request too large"). */
      tooLarge: boolean;
      limit: number;
      /** Units used in the current window, in per-minute terms like the limit. */
      used: number;
      requested: number;
      retryAfterMs: number;
      state: RateLimitState;
    };

export interface RateLimiterConfig {
  limitsFor: (model: string) => ModelLimits;
  /**
   * The window the per-minute budget is enforced over. OpenAI enforces limits over short slices, not whole
   * minutes: with 1000 ms a 600 RPM limit lets 10 requests through per second, not 600 at once.
   */
  sliceMs: number;
  now: () => number;
}

/**
 * Two views of one limit. `slice` enforces it (capacity = limit × sliceMs / 60000). `minute` is the per-minute
 * account OpenAI reports in x-ratelimit-* (capacity = the limit itself): a client can see "remaining 590" and still
 * get a 429 because the current slice is spent, exactly as on the real API. They are one bucket when the slice is a
 * whole minute.
 */
interface Budget {
  slice: TokenBucket;
  minute: TokenBucket;
}

interface ModelBuckets {
  limits: { rpm: number; tpm: number };
  requests: Budget | undefined;
  tokens: Budget | undefined;
}

/**
 * OpenAI-style RPM and TPM limits, one pair of buckets per model. A request is charged at arrival with one request
 * and its estimated tokens; it is admitted only if both buckets allow it, and charged to neither otherwise.
 */
export class RateLimiter {
  readonly #config: RateLimiterConfig;
  readonly #models = new Map<string, ModelBuckets>();

  constructor(config: RateLimiterConfig) {
    this.#config = config;
  }

  admit(model: string, tokens: number): Admission {
    const now = this.#config.now();
    const buckets = this.#bucketsFor(model, now);
    if (buckets.tokens && tokens > buckets.limits.tpm) {
      return this.#reject(buckets, "tokens", tokens, Number.POSITIVE_INFINITY, true, now);
    }
    const requestCheck = buckets.requests?.slice.check(1, now);
    if (requestCheck && !requestCheck.admitted) {
      return this.#reject(buckets, "requests", 1, requestCheck.retryAfterMs, false, now);
    }
    const tokenCheck = buckets.tokens?.slice.check(tokens, now);
    if (tokenCheck && !tokenCheck.admitted) {
      return this.#reject(buckets, "tokens", tokens, tokenCheck.retryAfterMs, false, now);
    }
    charge(buckets.requests, 1, now);
    charge(buckets.tokens, tokens, now);
    return { admitted: true, state: this.#state(buckets, now) };
  }

  /** Current state for a model without charging it (for answers that never reached admission). */
  state(model: string): RateLimitState {
    const now = this.#config.now();
    return this.#state(this.#bucketsFor(model, now), now);
  }

  /** Forget all buckets: the next request of each model finds them full, under the then-current limits. */
  reset(): void {
    this.#models.clear();
  }

  #bucketsFor(model: string, now: number): ModelBuckets {
    const existing = this.#models.get(model);
    if (existing) return existing;
    const { rpm, tpm } = this.#config.limitsFor(model);
    const rpmLimit = rpm && rpm > 0 ? rpm : 0;
    const tpmLimit = tpm && tpm > 0 ? tpm : 0;
    const { sliceMs } = this.#config;
    const created: ModelBuckets = {
      limits: { rpm: rpmLimit, tpm: tpmLimit },
      requests: rpmLimit > 0 ? budget(rpmLimit, sliceMs, now) : undefined,
      tokens: tpmLimit > 0 ? budget(tpmLimit, sliceMs, now) : undefined,
    };
    this.#models.set(model, created);
    return created;
  }

  #reject(
    buckets: ModelBuckets,
    kind: LimitKind,
    requested: number,
    retryAfterMs: number,
    tooLarge: boolean,
    now: number,
  ): Admission {
    const bucket = (kind === "requests" ? buckets.requests : buckets.tokens)?.slice;
    const limit = kind === "requests" ? buckets.limits.rpm : buckets.limits.tpm;
    // "Used" is the spent slice scaled to per-minute terms, so it reads against "Limit" the way OpenAI's messages
    // do ("Limit 600, Used 600" when a 1-second slice of a 600 RPM limit is spent).
    const usedInSlice = bucket ? bucket.capacity - bucket.level(now) : 0;
    const sliceMs = Math.min(this.#config.sliceMs, MINUTE_MS);
    const used = Math.max(0, Math.round((usedInSlice * MINUTE_MS) / sliceMs));
    return {
      admitted: false,
      kind,
      tooLarge,
      limit,
      used,
      requested,
      retryAfterMs: Number.isFinite(retryAfterMs) ? Math.max(1, Math.ceil(retryAfterMs)) : retryAfterMs,
      state: this.#state(buckets, now),
    };
  }

  #state(buckets: ModelBuckets, now: number): RateLimitState {
    const state: RateLimitState = {};
    if (buckets.requests) state.requests = dimension(buckets.requests.minute, buckets.limits.rpm, now);
    if (buckets.tokens) state.tokens = dimension(buckets.tokens.minute, buckets.limits.tpm, now);
    return state;
  }
}

const MINUTE_MS = 60_000;

function budget(limit: number, sliceMs: number, now: number): Budget {
  const minute = new TokenBucket(limit, MINUTE_MS, now);
  if (sliceMs >= MINUTE_MS) return { slice: minute, minute };
  return { slice: new TokenBucket((limit * sliceMs) / MINUTE_MS, sliceMs, now), minute };
}

function charge(budget: Budget | undefined, cost: number, now: number): void {
  if (!budget) return;
  budget.slice.take(cost, now);
  if (budget.minute !== budget.slice) budget.minute.take(cost, now);
}

function dimension(bucket: TokenBucket, limit: number, now: number): DimensionState {
  return {
    limit,
    remaining: Math.max(0, Math.floor(bucket.level(now) + 1e-9)),
    resetMs: bucket.msUntilFull(now),
  };
}

/** The x-ratelimit-* headers OpenAI puts on every answer, for the dimensions that are limited. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  const headers: Record<string, string> = {};
  if (state.requests) {
    headers["x-ratelimit-limit-requests"] = String(state.requests.limit);
    headers["x-ratelimit-remaining-requests"] = String(state.requests.remaining);
    headers["x-ratelimit-reset-requests"] = formatOpenAIDuration(state.requests.resetMs);
  }
  if (state.tokens) {
    headers["x-ratelimit-limit-tokens"] = String(state.tokens.limit);
    headers["x-ratelimit-remaining-tokens"] = String(state.tokens.remaining);
    headers["x-ratelimit-reset-tokens"] = formatOpenAIDuration(state.tokens.resetMs);
  }
  return headers;
}
