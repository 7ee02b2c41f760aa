import { describe, expect, it } from "vitest";
import { admissionRows, toAdmissions } from "./admission.ts";

describe("admissionRows", () => {
  it("keeps batch order, the resolved model and the Kafka position; absent optional ids are null", () => {
    const rows = admissionRows([
      {
        request: { request_id: "r1", tenant: "t", messages: [{ role: "user", content: "hi" }] },
        model: "gpt-4o-mini",
        priority: "batch",
        source: { topic: "chat.requests", partition: 3, offset: "9007199254740993" },
        receivedAt: new Date("2025-01-01T00:00:00Z"),
      },
    ]);
    expect(rows).toEqual([
      {
        ord: 0,
        request_id: "r1",
        conversation_id: null,
        tenant: "t",
        user_id: null,
        model: "gpt-4o-mini",
        priority: "batch",
        payload: { request_id: "r1", tenant: "t", messages: [{ role: "user", content: "hi" }] },
        source_topic: "chat.requests",
        source_partition: 3,
        source_offset: "9007199254740993",
        received_at: "2025-01-01T00:00:00.000Z",
      },
    ]);
  });
});

describe("toAdmissions", () => {
  it("rebuilds a done request's reply from its envelope and content", () => {
    const admissions = toAdmissions([
      { request_id: "a", state: "new", reply: null, content: null },
      { request_id: "b", state: "pending", reply: null, content: null },
      {
        request_id: "c",
        state: "done",
        reply: { request_id: "c", status: "completed", latency_ms: 5, attempts: 1 },
        content: "hello",
      },
    ]);
    expect(admissions).toEqual(
      new Map([
        ["a", { state: "new" }],
        ["b", { state: "pending" }],
        [
          "c",
          {
            state: "done",
            reply: { request_id: "c", status: "completed", content: "hello", latency_ms: 5, attempts: 1 },
          },
        ],
      ]),
    );
  });

  it("refuses a stored reply that no longer matches the contract", () => {
    expect(() =>
      toAdmissions([{ request_id: "c", state: "done", reply: { status: "weird" }, content: null }]),
    ).toThrow();
  });
});
