import { describe, expect, it } from "vitest";
import { decodeChatRequest } from "./decode-request.ts";
import { MAX_NESTING_DEPTH } from "./request-limits.ts";

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

  it("allows every reply topic under a prefix entry, and only those", () => {
    const allowedReplyTopics = new Set(["chat.replies", "chat.replies.gateway.*"]);
    const topic = (reply_topic: string) =>
      decodeChatRequest(bytes({ ...good, reply_topic }), { ...limits, allowedReplyTopics }).ok;
    expect(topic("chat.replies.gateway.gw-1a2b")).toBe(true);
    expect(topic("chat.replies.gatewayx")).toBe(false);
    expect(topic("chat.replies.other")).toBe(false);
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

  const nested = (depth: number, open = "[", close = "]") => `${open.repeat(depth)}${close.repeat(depth)}`;
  const inMetadata = (inner: string) =>
    new TextEncoder().encode(
      `{"request_id":"r-1","messages":[{"role":"user","content":"x"}],"metadata":{"a":${inner}}}`,
    );

  it("accepts nesting up to the limit and refuses one level more, with the request_id kept", () => {
    // The request is level 1, metadata level 2, its "a" value level 3.
    const atLimit = decodeChatRequest(inMetadata(nested(MAX_NESTING_DEPTH - 2)), { maxBytes: 1e6 });
    expect(atLimit.ok).toBe(true);
    const over = decodeChatRequest(inMetadata(nested(MAX_NESTING_DEPTH - 1)), { maxBytes: 1e6 });
    expect(over).toMatchObject({
      ok: false,
      rejection: { code: "too_deep", requestId: "r-1", message: expect.stringContaining("metadata.a.0") },
    });
  });

  it.each([
    ["5,000 nested arrays in metadata (the outside trial)", inMetadata(nested(5000))],
    ["100,000 nested arrays at the root", bytes(nested(100_000))],
    ["20,000 nested objects in metadata", inMetadata(`${'{"k":'.repeat(20_000)}1${"}".repeat(20_000)}`)],
    [
      "nesting inside a message's content",
      bytes(`{"request_id":"r","messages":[{"role":"user","content":${nested(9000)}}]}`),
    ],
  ])("refuses %s as too_deep instead of overflowing the stack", (_, value) => {
    const d = decodeChatRequest(value, { maxBytes: 1e6 });
    expect(d).toMatchObject({ ok: false, rejection: { code: "too_deep" } });
  });

  it.each([
    ["__proto__", '{"__proto__":{"polluted":true}}'],
    ["constructor", '{"constructor":{"prototype":{"polluted":true}}}'],
    ["prototype", '{"x":[{"prototype":1}]}'],
  ])("refuses a %s key anywhere, and nothing is polluted", (key, metadata) => {
    const text = `{"request_id":"r-1","messages":[{"role":"user","content":"x"}],"metadata":${metadata}}`;
    const d = decodeChatRequest(new TextEncoder().encode(text), limits);
    expect(d).toMatchObject({
      ok: false,
      rejection: { code: "schema", message: expect.stringContaining(key) },
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses a prototype key at the top level too (zod would silently drop it)", () => {
    const d = decodeChatRequest(
      bytes(`{"__proto__":{},"request_id":"r-1","messages":[{"role":"user","content":"x"}]}`),
      limits,
    );
    expect(d).toMatchObject({ ok: false, rejection: { code: "schema", requestId: "r-1" } });
  });

  it("refuses numbers a double cannot hold, and turns -0 into 0", () => {
    expect(
      decodeChatRequest(
        bytes('{"request_id":"r","messages":[{"role":"user","content":"x"}],"metadata":{"n":1e400}}'),
        limits,
      ),
    ).toMatchObject({
      ok: false,
      rejection: { code: "schema", message: expect.stringContaining("metadata.n") },
    });
    const d = decodeChatRequest(
      bytes(
        '{"request_id":"r","messages":[{"role":"user","content":"x"}],"params":{"seed":-0},"metadata":{"z":[-0]}}',
      ),
      limits,
    );
    expect(d).toMatchObject({ ok: true });
    if (!d.ok) return;
    expect(Object.is(d.request.params?.seed, 0)).toBe(true);
    expect(Object.is((d.request.metadata?.z as number[] | undefined)?.[0], 0)).toBe(true);
  });

  it("ignores a leading UTF-8 byte order mark, and refuses one anywhere else", () => {
    const text = JSON.stringify(good);
    expect(decodeChatRequest(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(text)]), limits).ok).toBe(true);
    expect(decodeChatRequest(bytes(` \ufeff${text}`), limits)).toMatchObject({
      ok: false,
      rejection: { code: "not_json" },
    });
  });

  it.each([
    ["an overlong slash", [0x22, 0xc0, 0xaf, 0x22]],
    ["a UTF-8-encoded surrogate", [0x22, 0xed, 0xa0, 0x80, 0x22]],
    ["a truncated sequence", [0x22, 0xe2, 0x82, 0x22]],
    ["a UTF-16 byte order mark", [0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]],
  ])("refuses %s as not_utf8", (_, value) => {
    expect(decodeChatRequest(new Uint8Array(value), limits)).toMatchObject({
      ok: false,
      rejection: { code: "not_utf8" },
    });
  });

  it("keeps the last of duplicate keys, as JSON.parse does, and uses that request_id", () => {
    const d = decodeChatRequest(
      bytes(
        '{"request_id":"first","messages":[],"request_id":"second","messages":[{"role":"user","content":"x"}]}',
      ),
      limits,
    );
    expect(d).toMatchObject({ ok: true, request: { request_id: "second" } });
  });

  it("gives no request_id when the id itself could not be stored", () => {
    const d = decodeChatRequest(bytes({ ...good, request_id: "r\u0000" }), limits);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.rejection.requestId).toBeUndefined();
  });

  it("keeps rejection messages storable and bounded when they quote the input", () => {
    const key = `\ud800${"k".repeat(5000)}`;
    const cases = [
      bytes("\u0000{}"), // the parser quotes the raw NUL back
      bytes({ ...good, params: { [`x${"y".repeat(5000)}`]: 1 } }), // zod quotes the unknown key back
      bytes({ ...good, metadata: { [key]: 1 } }),
    ];
    for (const value of cases) {
      const d = decodeChatRequest(value, { maxBytes: 1e6 });
      expect(d.ok).toBe(false);
      if (d.ok) continue;
      expect(d.rejection.message.length).toBeLessThanOrEqual(1000);
      expect(d.rejection.message.isWellFormed() && !d.rejection.message.includes("\0")).toBe(true);
    }
  });
});
