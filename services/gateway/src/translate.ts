import { createHash } from "node:crypto";
import type { ChatParams, ChatReply, ChatRequest } from "@chatq/contracts";
import { GatewayError } from "./gateway-error.ts";
import type { ChatCompletion, ChatCompletionRequest } from "./openai-schema.ts";

/** What the gateway adds to a request: decided by the key and the replica, never by the body. */
export interface RequestContext {
  tenantId: string;
  replyTopic: string;
  /** From Idempotency-Key, else random; already scoped to the tenant (see scopedId). */
  requestId: string;
  /** From X-Chatq-Conversation-Id, scoped to the tenant. */
  conversationId: string | undefined;
}

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,63}$/;

/**
 * A client-chosen id (Idempotency-Key, conversation id) made the tenant's own: two tenants using the same
 * Idempotency-Key or conversation id never see each other's reply or history.
 */
export function scopedId(tenantId: string, clientId: string, header: string): string {
  if (!CLIENT_ID.test(clientId)) {
    throw new GatewayError("invalid_request", `${header} must be 1-63 characters of A-Z a-z 0-9 . _ : -`, {
      param: header,
    });
  }
  return `${tenantId}/${clientId}`;
}

/** The id a client sees is its own part of a scoped id. */
export function clientPart(tenantId: string, scoped: string): string {
  return scoped.startsWith(`${tenantId}/`) ? scoped.slice(tenantId.length + 1) : scoped;
}

/** OpenAI's body → chatq's request. `developer` is OpenAI's new name for `system`; text parts are joined. */
export function toChatRequest(body: ChatCompletionRequest, ctx: RequestContext): ChatRequest {
  const params: ChatParams = {};
  if (body.temperature !== undefined) params.temperature = body.temperature;
  if (body.top_p !== undefined) params.top_p = body.top_p;
  if (body.max_tokens != null) params.max_tokens = body.max_tokens;
  if (body.max_completion_tokens != null) params.max_completion_tokens = body.max_completion_tokens;
  if (body.stop != null) params.stop = body.stop;
  if (body.seed != null) params.seed = body.seed;
  if (body.response_format !== undefined) params.response_format = body.response_format;
  if (params.max_tokens !== undefined && params.max_completion_tokens !== undefined) {
    throw new GatewayError("invalid_request", "set max_tokens or max_completion_tokens, not both", {
      param: "max_completion_tokens",
    });
  }
  const request: ChatRequest = {
    request_id: ctx.requestId,
    tenant: ctx.tenantId,
    model: body.model,
    messages: body.messages.map((m) => ({
      role: m.role === "developer" ? "system" : m.role,
      content: typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join(""),
    })),
    priority: "interactive",
    reply_topic: ctx.replyTopic,
    created_at: new Date().toISOString(),
  };
  if (ctx.conversationId !== undefined) request.conversation_id = ctx.conversationId;
  if (body.user !== undefined) request.user_id = body.user;
  if (Object.keys(params).length > 0) request.params = params;
  if (request.messages.some((m) => m.content.length === 0)) {
    throw new GatewayError("invalid_request", "message content must not be empty", { param: "messages" });
  }
  return request;
}

/** An id shaped like OpenAI's, stable for a request_id (a retried call gets the same completion id). */
export function completionId(requestId: string): string {
  return `chatcmpl-${createHash("sha256").update(requestId).digest("base64url").slice(0, 24)}`;
}

/** A `completed` reply in OpenAI's shape; any other reply is a GatewayError. */
export function toChatCompletion(reply: ChatReply, requestedModel: string, nowMs: number): ChatCompletion {
  if (reply.status !== "completed") throw replyError(reply);
  const completion: ChatCompletion = {
    id: completionId(reply.request_id),
    object: "chat.completion",
    created: Math.floor(nowMs / 1000),
    model: reply.model ?? requestedModel,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: reply.content ?? "", refusal: null },
        finish_reason: reply.finish_reason ?? "stop",
        logprobs: null,
      },
    ],
    system_fingerprint: null,
  };
  if (reply.usage !== undefined) completion.usage = reply.usage;
  return completion;
}

/** A failed or rejected reply as the HTTP error a client of the OpenAI API would get for it. */
export function replyError(reply: ChatReply): GatewayError {
  const message = reply.error?.message ?? `request ${reply.status}`;
  if (reply.status === "rejected") {
    return reply.error?.code === "unknown_model"
      ? new GatewayError("model_not_found", message, { param: "model" })
      : new GatewayError("request_rejected", message);
  }
  switch (reply.error?.code) {
    case "bad_request":
    case "context_length":
      return new GatewayError("invalid_request", message);
    case "timeout":
      return new GatewayError("reply_timeout", message);
    default:
      return new GatewayError("upstream_error", message);
  }
}

/**
 * The reply as server-sent events in OpenAI's chunk format. chatq's workers answer whole, so the content comes in
 * one chunk, after a first chunk with the role and before one with the finish reason (and usage, if asked).
 */
export function toSseEvents(completion: ChatCompletion, includeUsage: boolean): string {
  const base = {
    id: completion.id,
    object: "chat.completion.chunk",
    created: completion.created,
    model: completion.model,
    system_fingerprint: null,
  };
  const choice = completion.choices[0];
  const chunks: unknown[] = [
    {
      ...base,
      choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }],
    },
    {
      ...base,
      choices: [
        { index: 0, delta: { content: choice?.message.content ?? "" }, logprobs: null, finish_reason: null },
      ],
    },
    {
      ...base,
      choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: choice?.finish_reason ?? "stop" }],
    },
  ];
  if (includeUsage) chunks.push({ ...base, choices: [], usage: completion.usage ?? null });
  return `${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("")}data: [DONE]\n\n`;
}
