import type { ChatReply, HistoryMode, Source } from "@chatq/contracts";
import type { LlmError } from "@chatq/llm";

export interface SuccessFacts {
  model: string;
  content: string;
  finishReason: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  costUsd: number;
  latencyMs: number;
  attempts: number;
}

export function completedReply(
  requestId: string,
  conversationId: string | undefined,
  context: { history?: HistoryMode; sources?: Source[] },
  f: SuccessFacts,
): ChatReply {
  return withConversation(
    {
      request_id: requestId,
      status: "completed",
      model: f.model,
      content: f.content,
      finish_reason: f.finishReason,
      usage: f.usage,
      cost_usd: f.costUsd,
      latency_ms: Math.round(f.latencyMs),
      attempts: f.attempts,
      ...context,
    },
    conversationId,
  );
}

export function failedReply(
  requestId: string,
  conversationId: string | undefined,
  f: { model: string; error: LlmError; latencyMs: number; attempts: number },
): ChatReply {
  return withConversation(
    {
      request_id: requestId,
      status: "failed",
      model: f.model,
      latency_ms: Math.round(f.latencyMs),
      attempts: f.attempts,
      error: { code: f.error.code, message: f.error.message, retryable: f.error.retryable },
    },
    conversationId,
  );
}

function withConversation(reply: ChatReply, conversationId: string | undefined): ChatReply {
  return conversationId === undefined ? reply : { ...reply, conversation_id: conversationId };
}
