import { describe, expect, it } from "vitest";
import { classifyPgError, StoreError, toStoreError } from "./store-error.ts";

function pgError(code: string): Error {
  return Object.assign(new Error(`server said ${code}`), { code });
}

describe("classifyPgError", () => {
  it.each([
    ["ECONNREFUSED", "connection", true],
    ["ECONNRESET", "connection", true],
    ["08006", "connection", true], // connection_failure
    ["08P01", "connection", true], // protocol_violation
    ["57P01", "connection", true], // admin_shutdown
    ["57P03", "connection", true], // cannot_connect_now
    ["53300", "connection", true], // too_many_connections
    ["23505", "constraint", false], // unique_violation
    ["23503", "constraint", false], // foreign_key_violation
    ["40P01", "query", true], // deadlock
    ["40001", "query", true], // serialization_failure
    ["57014", "query", true], // statement_timeout
    ["42601", "query", false], // syntax_error
    ["22P02", "query", false], // invalid_text_representation
  ])("%s → %s, retryable %s", (code, expected, retryable) => {
    expect(classifyPgError(pgError(code))).toMatchObject({ code: expected, retryable });
  });

  it("keeps the SQLSTATE of a server error", () => {
    expect(classifyPgError(pgError("57P01")).sqlState).toBe("57P01");
    expect(classifyPgError(pgError("ECONNREFUSED")).sqlState).toBeUndefined();
  });

  it("treats pg's code-less lost-connection errors as retryable connection errors", () => {
    expect(classifyPgError(new Error("Connection terminated unexpectedly"))).toEqual({
      code: "connection",
      retryable: true,
    });
    expect(classifyPgError(new Error("timeout exceeded when trying to connect"))).toMatchObject({
      code: "connection",
    });
  });

  it("anything unknown is a non-retryable query error", () => {
    expect(classifyPgError(new Error("boom"))).toEqual({ code: "query", retryable: false });
    expect(classifyPgError("a string")).toEqual({ code: "query", retryable: false });
  });
});

describe("toStoreError", () => {
  it("names the operation and keeps the cause", () => {
    const cause = pgError("23505");
    const e = toStoreError(cause, "complete");
    expect(e).toBeInstanceOf(StoreError);
    expect(e).toMatchObject({
      code: "constraint",
      retryable: false,
      operation: "complete",
      sqlState: "23505",
    });
    expect(e.cause).toBe(cause);
  });

  it("passes a StoreError through unchanged", () => {
    const e = new StoreError("x", { code: "query", retryable: false, operation: "admit" });
    expect(toStoreError(e, "other")).toBe(e);
  });
});
