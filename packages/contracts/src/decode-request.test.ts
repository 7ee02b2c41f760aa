import { describe, expect, it } from "vitest";
import { decodeChatRequest } from "./decode-request.ts";

const limits = { maxBytes: 1024 };
const bytes = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const good = { request_id: "r-1", messages: [{ role: "user", content: "hello" }] };

describe("decodeChatRequest", () => {
  it("accepts a minimal request and keeps its fields", () => {
    const d = decodeChatRequest(bytes({ ...good, conversation_id: "c-1", priority: "batch" }), limits);
    expect(d).toEqual({ ok: true, request: { ...good, conversation_id: "c-1", priority: "batch" } });
  });

  it.each([
    ["missing_value", null],
    ["not_utf8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
    ["not_json", bytes("{request_id: r-1")],
    ["oversize", bytes({ ...good, messages: [{ role: "user", content: "x".repeat(2000) }] })],
    ["schema", bytes({ messages: good.messages })],
    ["empty_messages", bytes({ ...good, messages: [] })],
    ["bad_role", bytes({ ...good, messages: [{ role: "wizard", content: "hi" }] })],
    ["schema", bytes({ ...good, params: { temperature: 7 } })],
    ["schema", bytes({ ...good, params: { frobnicate: true } })],
  ])("rejects %s with a reason", (code, value) => {
    const d = decodeChatRequest(value as Uint8Array | null, limits);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.rejection.code).toBe(code);
      expect(d.rejection.message.length).toBeGreaterThan(5);
    }
  });

  it.each([
    [
      "a NUL in content",
      { ...good, messages: [{ role: "user", content: "a\u0000b" }] },
      "messages.0.content",
    ],
    ["a lone surrogate in an id", { ...good, conversation_id: "c\ud800" }, "conversation_id"],
    ["a NUL in a metadata key", { ...good, metadata: { "\u0000": 1 } }, "metadata."],
  ])("refuses %s: it could never be stored", (_, value, path) => {
    const d = decodeChatRequest(bytes(value), limits);
    expect(d).toMatchObject({
      ok: false,
      rejection: { code: "schema", message: expect.stringContaining(path) },
    });
  });

  it("accepts emoji and other text made of surrogate pairs", () => {
    expect(
      decodeChatRequest(bytes({ ...good, messages: [{ role: "user", content: "hi 😀 𝄞" }] }), limits).ok,
    ).toBe(true);
  });

  it("refuses a reply_topic chatq may not write to", () => {
    const allowedReplyTopics = new Set(["chat.replies"]);
    const d = decodeChatRequest(bytes({ ...good, reply_topic: "someone.elses" }), {
      ...limits,
      allowedReplyTopics,
    });
    expect(d).toMatchObject({ ok: false, rejection: { code: "bad_reply_topic", requestId: "r-1" } });
    expect(
      decodeChatRequest(bytes({ ...good, reply_topic: "chat.replies" }), { ...limits, allowedReplyTopics })
        .ok,
    ).toBe(true);
  });

  it("keeps a usable request_id from a bad message so its producer can be told", () => {
    const d = decodeChatRequest(bytes({ ...good, messages: [] }), limits);
    expect(d).toMatchObject({ ok: false, rejection: { code: "empty_messages", requestId: "r-1" } });
  });

  it("names the offending field in the message", () => {
    const d = decodeChatRequest(bytes({ ...good, messages: [{ role: "user", content: "" }] }), limits);
    expect(d).toMatchObject({
      ok: false,
      rejection: { message: expect.stringContaining("messages.0.content") },
    });
  });

  it("refuses a model outside the allow-list, but lets a request without a model through", () => {
    const allowedModels = new Set(["gpt-4o-mini"]);
    expect(decodeChatRequest(bytes({ ...good, model: "gpt-9" }), { ...limits, allowedModels })).toMatchObject(
      {
        ok: false,
        rejection: { code: "unknown_model", requestId: "r-1" },
      },
    );
    expect(decodeChatRequest(bytes(good), { ...limits, allowedModels }).ok).toBe(true);
  });
});
