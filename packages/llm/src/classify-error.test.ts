import { APIConnectionTimeoutError, APIError } from "openai";
import { describe, expect, it } from "vitest";
import { classifyError, codeForStatus } from "./classify-error.ts";

describe("classifyError", () => {
  it.each([
    [400, undefined, "bad_request"],
    [400, "context_length_exceeded", "context_length"],
    [401, "invalid_api_key", "auth"],
    [403, undefined, "auth"],
    [403, "model_not_found", "not_found"],
    [404, "model_not_found", "not_found"],
    [408, undefined, "timeout"],
    [409, undefined, "conflict"],
    [422, undefined, "bad_request"],
    [429, "rate_limit_exceeded", "rate_limited"],
    [429, "insufficient_quota", "quota"],
    [500, undefined, "server_error"],
    [503, undefined, "server_error"],
  ] as const)("status %i (%s) → %s", (status, bodyCode, expected) => {
    expect(codeForStatus(status, bodyCode)).toBe(expected);
  });

  it("carries retry-after-ms and headers from a 429", () => {
    const headers = new Headers({ "retry-after-ms": "750", "x-ratelimit-remaining-requests": "0" });
    const err = APIError.generate(
      429,
      { error: { code: "rate_limit_exceeded", message: "slow down" } },
      undefined,
      headers,
    );
    const e = classifyError(err);
    expect(e).toMatchObject({ code: "rate_limited", retryable: true, status: 429, retryAfterMs: 750 });
    expect(e.headers?.get("x-ratelimit-remaining-requests")).toBe("0");
  });

  it("a timeout is retryable", () => {
    expect(classifyError(new APIConnectionTimeoutError())).toMatchObject({
      code: "timeout",
      retryable: true,
    });
  });
});

describe("who is at fault (scope) and whether to retry (retryable)", () => {
  it.each([
    [401, "invalid_api_key", "account"],
    [403, undefined, "account"],
    [429, "insufficient_quota", "account"],
    [500, undefined, "service"],
    [503, undefined, "service"],
    [429, "rate_limit_exceeded", "request"],
    [400, undefined, "request"],
    [403, "model_not_found", "request"],
  ] as const)("status %i (%s) is the %s's condition", (status, code, scope) => {
    expect(
      classifyError(APIError.generate(status, { error: { code } }, undefined, new Headers())),
    ).toMatchObject({
      scope,
    });
  });

  it("x-should-retry from the server wins over the status", () => {
    const no = APIError.generate(503, { error: {} }, undefined, new Headers({ "x-should-retry": "false" }));
    const yes = APIError.generate(400, { error: {} }, undefined, new Headers({ "x-should-retry": "true" }));
    expect(classifyError(no)).toMatchObject({ code: "server_error", retryable: false });
    expect(classifyError(yes)).toMatchObject({ code: "bad_request", retryable: true });
  });
});
