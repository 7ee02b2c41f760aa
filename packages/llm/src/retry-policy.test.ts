import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LLM_ERROR_CODES, LlmError } from "./llm-error.ts";
import { DEFAULT_RETRY_POLICY, decideRetry } from "./retry-policy.ts";

const policy = DEFAULT_RETRY_POLICY;
const first = { attempt: 1, retryingMs: 0 };

describe("decideRetry", () => {
  it.each(["rate_limited", "server_error", "timeout", "connection", "conflict"] as const)(
    "retries %s while the request's deadline allows",
    (code) => {
      expect(decideRetry(new LlmError(code, "x"), first, policy, () => 0.5)).toMatchObject({
        retry: true,
        reason: code,
      });
    },
  );

  it.each(["bad_request", "context_length", "not_found", "unknown"] as const)("fails %s at once", (code) => {
    expect(decideRetry(new LlmError(code, "x"), first, policy)).toEqual({
      retry: false,
      reason: code,
      why: "permanent",
    });
  });

  it.each(["auth", "quota"] as const)("never charges %s to the request: it is the account's", (code) => {
    expect(decideRetry(new LlmError(code, "x"), first, policy)).toMatchObject({
      retry: false,
      why: "account",
    });
  });

  it("a quick run of failures is not enough to fail a request: only its own deadline is", () => {
    const e = new LlmError("server_error", "x");
    // Fifty attempts in ten seconds: still retrying.
    expect(decideRetry(e, { attempt: 50, retryingMs: 10_000 }, policy, () => 0.5).retry).toBe(true);
    expect(decideRetry(e, { attempt: 3, retryingMs: policy.deadlineMs }, policy, () => 0.5)).toMatchObject({
      retry: false,
      why: "deadline",
    });
  });

  it("an attempt cap, when configured, still applies", () => {
    const capped = { ...policy, maxAttempts: 3 };
    const e = new LlmError("server_error", "x");
    expect(decideRetry(e, { attempt: 3, retryingMs: 0 }, capped)).toMatchObject({
      retry: false,
      why: "exhausted",
    });
  });

  it("the server's x-should-retry wins over the status code", () => {
    expect(new LlmError("server_error", "x", { shouldRetry: false }).retryable).toBe(false);
    expect(new LlmError("bad_request", "x", { shouldRetry: true }).retryable).toBe(true);
    expect(
      decideRetry(new LlmError("server_error", "x", { shouldRetry: false }), first, policy),
    ).toMatchObject({
      retry: false,
      why: "permanent",
    });
  });

  it("waits at least what retry-after-ms asked", () => {
    const e = new LlmError("rate_limited", "x", { retryAfterMs: 1234 });
    expect(decideRetry(e, first, policy, () => 0)).toEqual({
      retry: true,
      delayMs: 1234,
      reason: "rate_limited",
    });
  });

  it("does not wait past the deadline for a retry-after that ends beyond it", () => {
    const e = new LlmError("rate_limited", "x", { retryAfterMs: policy.deadlineMs + 1 });
    expect(decideRetry(e, first, policy)).toMatchObject({ retry: false, why: "deadline" });
  });

  it("full jitter: every delay is within [0, min(max, base·2^(n-1))], honours retry-after, never passes the deadline", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: policy.deadlineMs }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        fc.option(fc.integer({ min: 0, max: 120_000 })),
        (attempt, retryingMs, r, retryAfterMs) => {
          const e = new LlmError("server_error", "x", { retryAfterMs: retryAfterMs ?? undefined });
          const d = decideRetry(e, { attempt, retryingMs }, policy, () => r);
          if (!d.retry) return d.why === "deadline";
          if (retryingMs + d.delayMs > policy.deadlineMs) return false;
          const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
          if (retryAfterMs === null) return d.delayMs >= 0 && d.delayMs <= cap;
          return d.delayMs >= retryAfterMs && d.delayMs <= retryAfterMs + 250;
        },
      ),
    );
  });

  it("knows every error code", () => {
    for (const code of LLM_ERROR_CODES)
      expect(() => decideRetry(new LlmError(code, "x"), first, policy)).not.toThrow();
  });
});
