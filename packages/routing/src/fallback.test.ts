import { describe, expect, it } from "vitest";
import { fallbackReason } from "./fallback.ts";

describe("fallbackReason", () => {
  it("leaves an open circuit, but takes the trial of a half-open one so recovery brings traffic back", () => {
    expect(fallbackReason({ kind: "circuit", state: "open", trialAvailable: false }, false)).toBe(
      "circuit_open",
    );
    expect(
      fallbackReason({ kind: "circuit", state: "half_open", trialAvailable: true }, false),
    ).toBeUndefined();
    expect(fallbackReason({ kind: "circuit", state: "half_open", trialAvailable: false }, false)).toBe(
      "circuit_open",
    );
    expect(
      fallbackReason({ kind: "circuit", state: "closed", trialAvailable: false }, false),
    ).toBeUndefined();
  });

  it("leaves a deployment whose budget or retry-after is beyond the wait budget", () => {
    expect(fallbackReason({ kind: "budget_wait", expectedWaitMs: 5000, waitBudgetMs: 1000 }, false)).toBe(
      "rate_limited",
    );
    expect(
      fallbackReason({ kind: "budget_wait", expectedWaitMs: 500, waitBudgetMs: 1000 }, false),
    ).toBeUndefined();
    expect(fallbackReason({ kind: "rate_limited", retryAfterMs: 30_000, waitBudgetMs: 1000 }, false)).toBe(
      "rate_limited",
    );
    expect(
      fallbackReason({ kind: "rate_limited", retryAfterMs: 200, waitBudgetMs: 1000 }, false),
    ).toBeUndefined();
  });

  it("leaves for a context-length refusal only, never for the request's own errors", () => {
    expect(fallbackReason({ kind: "error", code: "context_length" }, false)).toBe("context_length");
    for (const code of ["bad_request", "auth", "server_error", "unknown"])
      expect(fallbackReason({ kind: "error", code }, false)).toBeUndefined();
  });

  it("never falls back from the last deployment of a chain", () => {
    expect(fallbackReason({ kind: "circuit", state: "open", trialAvailable: false }, true)).toBeUndefined();
    expect(fallbackReason({ kind: "error", code: "context_length" }, true)).toBeUndefined();
  });
});
