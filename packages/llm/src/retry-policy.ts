import type { LlmError, LlmErrorCode } from "./llm-error.ts";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A retry-after longer than this is not waited for: the request fails and says why. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
};

export type RetryDecision =
  | { retry: true; delayMs: number; reason: LlmErrorCode }
  | {
      retry: false;
      reason: LlmErrorCode;
      why: "permanent" | "account" | "exhausted" | "retry_after_too_long";
    };

/**
 * After attempt number `attempt` (1-based) failed with `error`: try again, and after how long?
 * Exponential backoff with full jitter (a uniformly random delay up to the exponential cap), so that many
 * workers hit by the same outage do not come back in lockstep; but never sooner than the API asked.
 */
export function decideRetry(
  error: LlmError,
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  if (error.accountWide) return { retry: false, reason: error.code, why: "account" };
  if (!error.retryable) return { retry: false, reason: error.code, why: "permanent" };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: error.code, why: "exhausted" };
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = random() * cap;
  if (error.retryAfterMs === undefined) return { retry: true, delayMs: jittered, reason: error.code };
  if (error.retryAfterMs > policy.maxRetryAfterMs) {
    return { retry: false, reason: error.code, why: "retry_after_too_long" };
  }
  // The API's word is a floor; a little jitter on top keeps replicas from retrying in the same millisecond.
  return { retry: true, delayMs: error.retryAfterMs + random() * Math.min(cap, 250), reason: error.code };
}
