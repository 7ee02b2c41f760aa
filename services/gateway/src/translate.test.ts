import type { ChatReply } from "@chatq/contracts";
import { describe, expect, it } from "vitest";
import { GatewayError } from "./gateway-error.ts";
import { ChatCompletionRequestSchema } from "./openai-schema.ts";
import { clientPart, scopedId, toChatCompletion, toChatRequest, toSseEvents } from "./translate.ts";

const ctx = {
  tenantId: "acme",
  replyTopic: "chat.replies.gateway.gw-1",
  requestId: "acme/r1",
  conversationId: undefined,
};

describe("OpenAI body → chatq request", () => {
  it("takes the tenant and reply topic from the context, never from the body", () => {
    const body = ChatCompletionRequestSchema.parse({
      model: "gpt-4o-mini",
      messages: [
        { role: "developer", content: "be brief" },
        {
          role: "user",
          content: [
            { type: "text", text: "hi " },
            { type: "text", text: "there" },
          ],
        },
      ],
      tenant: "someone-else",
      max_tokens: 20,
    });
    const r = toChatRequest(body, ctx);
    expect(r).toMatchObject({
      request_id: "acme/r1",
      tenant: "acme",
      reply_topic: "chat.replies.gateway.gw-1",
      priority: "interactive",
      params: { max_tokens: 20 },
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi there" },
      ],
    });
  });

  it("scopes client ids to the tenant and refuses ids that are not plain", () => {
    expect(scopedId("acme", "abc-1", "Idempotency-Key")).toBe("acme/abc-1");
    expect(clientPart("acme", "acme/abc-1")).toBe("abc-1");
    expect(() => scopedId("acme", "../x", "Idempotency-Key")).toThrow(GatewayError);
    expect(() => scopedId("acme", "x".repeat(64), "Idempotency-Key")).toThrow(GatewayError);
  });
});

describe("chatq reply → OpenAI response", () => {
  const reply: ChatReply = {
    request_id: "acme/r1",
    status: "completed",
    model: "gpt-4o-mini-2024-07-18",
    content: "hello",
    finish_reason: "stop",
    usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    latency_ms: 5,
    attempts: 1,
  };

  it("has OpenAI's fields and a completion id stable per request", () => {
    const c = toChatCompletion(reply, "gpt-4o-mini", 1_700_000_000_000);
    expect(c).toMatchObject({
      object: "chat.completion",
      created: 1_700_000_000,
      model: "gpt-4o-mini-2024-07-18",
      choices: [{ index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop" }],
      usage: reply.usage,
    });
    expect(toChatCompletion(reply, "gpt-4o-mini", 0).id).toBe(c.id);
  });

  it("turns failed and rejected replies into OpenAI-style errors", () => {
    const failed = {
      ...reply,
      status: "failed" as const,
      error: { code: "timeout", message: "t", retryable: true },
    };
    expect(() => toChatCompletion(failed, "m", 0)).toThrow(expect.objectContaining({ status: 504 }));
    const rejected = {
      ...reply,
      status: "rejected" as const,
      error: { code: "unknown_model", message: "m", retryable: false },
    };
    expect(() => toChatCompletion(rejected, "m", 0)).toThrow(expect.objectContaining({ status: 404 }));
  });

  it("streams as chunks ending in [DONE], with usage only when asked", () => {
    const c = toChatCompletion(reply, "gpt-4o-mini", 0);
    const events = toSseEvents(c, true).split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice("data: ".length)));
    expect(chunks.map((ch) => ch.choices[0]?.delta?.content ?? null).join("")).toBe("hello");
    expect(chunks.at(-1).usage).toEqual(reply.usage);
    expect(toSseEvents(c, false)).not.toContain("usage");
  });
});
