import { describe, expect, it } from "vitest";
import { rejectedReply, rejectionRows } from "./rejection.ts";

const source = { topic: "chat.requests", partition: 1, offset: "5" };
const at = new Date("2025-01-01T00:00:00Z");

describe("rejectionRows", () => {
  it("gives a message with a request_id the canonical rejected reply", () => {
    const [row] = rejectionRows([
      { requestId: "r1", conversationId: "c1", code: "schema", message: "bad", source, at },
    ]);
    expect(row?.reply).toEqual({
      request_id: "r1",
      conversation_id: "c1",
      status: "rejected",
      latency_ms: 0,
      attempts: 0,
      error: { code: "schema", message: "bad", retryable: false },
    });
  });

  it("stores the worker's own reply when given one", () => {
    const reply = {
      ...rejectedReply({ requestId: "r1", code: "schema", message: "bad", source, at }),
      latency_ms: 3,
    };
    const [row] = rejectionRows([{ requestId: "r1", code: "schema", message: "bad", source, at, reply }]);
    expect(row?.reply).toEqual(reply);
  });

  it("has no reply without a request_id", () => {
    const [row] = rejectionRows([{ code: "not_json", message: "nope", source, at }]);
    expect(row).toMatchObject({
      request_id: null,
      reply: null,
      source_offset: "5",
      at: "2025-01-01T00:00:00.000Z",
    });
  });
});
