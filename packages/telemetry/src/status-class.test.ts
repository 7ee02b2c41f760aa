import { describe, expect, it } from "vitest";
import { statusClassOf } from "./status-class.ts";

class APIConnectionError extends Error {
  readonly status = undefined;
}
class APIConnectionTimeoutError extends APIConnectionError {}

describe("statusClassOf", () => {
  it.each([
    [200, "2xx"],
    [201, "2xx"],
    [400, "4xx"],
    [401, "4xx"],
    [404, "4xx"],
    [413, "4xx"],
    [429, "429"],
    [500, "5xx"],
    [503, "5xx"],
    [599, "5xx"],
    [302, "other"],
    [0, "other"],
  ])("HTTP %i → %s", (status, expected) => {
    expect(statusClassOf(status)).toBe(expected);
  });

  it.each([
    ["an API error with status 429", Object.assign(new Error("x"), { status: 429 }), "429"],
    ["an API error with status 502", Object.assign(new Error("x"), { status: 502 }), "5xx"],
    ["an SDK connection timeout (by class)", new APIConnectionTimeoutError("Request timed out."), "timeout"],
    ["an SDK connection error", new APIConnectionError("Connection error."), "connection"],
    ["a socket ETIMEDOUT", Object.assign(new Error("x"), { code: "ETIMEDOUT" }), "timeout"],
    ["an AbortSignal.timeout()", new DOMException("x", "TimeoutError"), "timeout"],
    ["a refused connection", Object.assign(new Error("x"), { code: "ECONNREFUSED" }), "connection"],
    ["a thrown string", "boom", "connection"],
    ["undefined", undefined, "connection"],
  ])("%s → %s", (_what, error, expected) => {
    expect(statusClassOf(error)).toBe(expected);
  });
});
