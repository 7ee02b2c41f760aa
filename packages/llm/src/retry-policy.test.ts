import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LLM_ERROR_CODES, LlmError } from "./llm-error.ts";
import { DEFAULT_RETRY_POLICY, decideRetry } from "./retry-policy.ts";

const policy = DEFAULT_RETRY_POLICY;

describe("decideRetry", () => {
  it.each(["rate_limited", "server_error", "timeout", "connection", "conflict"] as const)(
    "retries %s while attempts remain",
    (code) => {
      expect(decideRetry(new LlmError(code, "x"), 1, policy, () => 0.5)).toMatchObject({
        retry: true,
        reason: code,
      });
    },
  );

  it.each(["bad_request", "context_length", "not_found", "unknown"] as const)("fails %s at once", (code) => {
    expect(decideRetry(new LlmError(code, "x"), 1, policy)).toEqual({
      retry: false,
      reason: code,
      why: "permanent",
    });
  });

  it.each(["auth", "quota"] as const)("never retries %s: it is the account, not the request", (code) => {
    expect(decideRetry(new LlmError(code, "x"), 1, policy)).toMatchObject({ retry: false, why: "account" });
  });

  it("gives up when the attempt budget is spent", () => {
    const e = new LlmError("server_error", "x");
    expect(decideRetry(e, policy.maxAttempts, policy)).toMatchObject({ retry: false, why: "exhausted" });
  });

  it("waits at least what retry-after-ms asked", () => {
    const e = new LlmError("rate_limited", "x", { retryAfterMs: 1234 });
    const d = decideRetry(e, 1, policy, () => 0);
    expect(d).toEqual({ retry: true, delayMs: 1234, reason: "rate_limited" });
  });

  it("refuses to wait longer than maxRetryAfterMs", () => {
    const e = new LlmError("rate_limited", "x", { retryAfterMs: policy.maxRetryAfterMs + 1 });
    expect(decideRetry(e, 1, policy)).toMatchObject({ retry: false, why: "retry_after_too_long" });
  });

  it("full jitter: every delay is within [0, min(max, base·2^(n-1))] and honours retry-after", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: policy.maxAttempts - 1 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        fc.option(fc.integer({ min: 0, max: policy.maxRetryAfterMs })),
        (attempt, r, retryAfterMs) => {
          const e = new LlmError("server_error", "x", { retryAfterMs: retryAfterMs ?? undefined });
          const d = decideRetry(e, attempt, policy, () => r);
          if (!d.retry) return false;
          const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
          if (retryAfterMs === null) return d.delayMs >= 0 && d.delayMs <= cap;
          return d.delayMs >= retryAfterMs && d.delayMs <= retryAfterMs + 250;
        },
      ),
    );
  });

  it("knows every error code", () => {
    for (const code of LLM_ERROR_CODES)
      expect(() => decideRetry(new LlmError(code, "x"), 1, policy)).not.toThrow();
  });
});
