import type { BudgetStore } from "./budget-store.ts";
import { LocalBudgetStore } from "./budget-store.ts";
import type { RateLimiter, RateLimiterOptions } from "./limiter-types.ts";
import { QueuedRateLimiter } from "./rate-limiter.ts";
import { RedisBudgetStore } from "./redis-budget-store.ts";

export {
  InvalidAcquireError,
  RateLimitAbortedError,
  RateLimiterClosedError,
  RateLimiterError,
  RequestTooLargeError,
} from "./errors.ts";
export type {
  AcquireRequest,
  ModelLimits,
  Permit,
  Priority,
  QueueDepth,
  RateLimiter,
  RateLimiterOptions,
  RateLimitObservation,
} from "./limiter-types.ts";
export type { HeaderSource } from "./rate-limit-headers.ts";
export { parseDurationMs, parseRateLimitHeaders, parseRetryAfter } from "./rate-limit-headers.ts";

const DEFAULT_SLICE_MS = 1000;
const DEFAULT_JITTER_MARGIN_MS = 20;
const DEFAULT_MAX_QUEUED = 1000;

/**
 * With `redis`, the budget is shared by every replica using the same URL and key prefix;
 * without, it lives in this process.
 */
export async function createRateLimiter(opts: RateLimiterOptions): Promise<RateLimiter> {
  const clock = opts.clock ?? Date.now;
  const burstSliceMs = opts.burstSliceMs ?? DEFAULT_SLICE_MS;
  const jitterMarginMs = opts.jitterMarginMs ?? DEFAULT_JITTER_MARGIN_MS;
  if (!(burstSliceMs > 0) || !(jitterMarginMs >= 0)) {
    throw new RangeError("burstSliceMs must be > 0 and jitterMarginMs >= 0");
  }
  for (const [model, l] of Object.entries({ ...opts.limits.perModel, "(default)": opts.limits.default })) {
    if (!(l.rpm >= 0) || !(l.tpm >= 0)) throw new RangeError(`limits of ${model}: rpm and tpm must be >= 0`);
  }
  const store: BudgetStore = opts.redis
    ? await RedisBudgetStore.connect({
        url: opts.redis.url,
        ...(opts.redis.keyPrefix !== undefined && { keyPrefix: opts.redis.keyPrefix }),
        ...(opts.clock !== undefined && { clock: opts.clock }),
        ...(opts.onError !== undefined && { onError: opts.onError }),
      })
    : new LocalBudgetStore(clock);
  return new QueuedRateLimiter(store, {
    limits: opts.limits,
    burstSliceMs,
    jitterMarginMs,
    maxQueued: opts.maxQueued ?? DEFAULT_MAX_QUEUED,
    clock,
    onError: opts.onError ?? (() => {}),
  });
}
