import type { LlmError, LlmErrorCode } from "./llm-error.ts";

export interface RetryPolicy {
  /**
   * How long a request may go on failing for transient reasons of its own before it fails for good. Real provider
   * incidents last minutes to hours, so this is a time, not a count of quick retries. Time the request spends
   * behind an open circuit or a closed account gate is not its own and is not counted (the caller measures).
   */
  deadlineMs: number;
  /** Attempts in all, the first included; 0 = no count (the deadline decides). */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  deadlineMs: 15 * 60_000,
  maxAttempts: 0,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
};

export interface RetryState {
  /** Attempts this request has been charged, the one that just failed included (1-based). */
  attempt: number;
  /** Milliseconds since its first charged failure, less the time it waited behind gates. */
  retryingMs: number;
}

export type RetryDecision =
  | { retry: true; delayMs: number; reason: LlmErrorCode }
  | {
      retry: false;
      reason: LlmErrorCode;
      why: "permanent" | "account" | "exhausted" | "deadline";
    };

/**
 * After a charged attempt failed with `error`: try again, and after how long?
 * Exponential backoff with full jitter (a uniformly random delay up to the exponential cap), so that many
 * workers hit by the same failure do not come back in lockstep; never sooner than the API asked (retry-after);
 * and never past the request's own deadline.
 */
export function decideRetry(
  error: LlmError,
  state: RetryState,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  // The account's condition is not the request's: the caller puts it back behind the account gate.
  if (error.scope === "account") return { retry: false, reason: error.code, why: "account" };
  if (!error.retryable) return { retry: false, reason: error.code, why: "permanent" };
  if (policy.maxAttempts > 0 && state.attempt >= policy.maxAttempts) {
    return { retry: false, reason: error.code, why: "exhausted" };
  }
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(30, state.attempt - 1));
  const delayMs =
    error.retryAfterMs === undefined
      ? random() * cap
      : // The API's word is a floor; a little jitter on top keeps replicas from retrying in the same millisecond.
        error.retryAfterMs + random() * Math.min(cap, 250);
  if (state.retryingMs + delayMs > policy.deadlineMs)
    return { retry: false, reason: error.code, why: "deadline" };
  return { retry: true, delayMs, reason: error.code };
}
