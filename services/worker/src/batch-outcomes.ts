import type { ChatReply } from "@chatq/contracts";
import type { InRecord } from "@chatq/kafka";
import { costOf, type LlmErrorCode, type PriceTable } from "@chatq/llm";
import type { BatchMember, Outcome } from "@chatq/store";
import type { LineAnswer } from "./batch-lines.ts";
import { completedReply } from "./build-reply.ts";
import type { Effect } from "./effects.ts";

/** The stable code of a request the Batch API could not answer before its deadline (`BATCH_DEADLINE_MS`). */
export const BATCH_DEADLINE_EXCEEDED = "batch_deadline_exceeded";

type OutcomeEffect = Extract<Effect, { kind: "outcome" }>;

export interface BatchOutcomeContext {
  prices: PriceTable;
  replyTopic: string;
  /** Which submission of these requests answered (1 = the first batch). */
  attempt: number;
  finishedAt: Date;
}

/** How a batch member ends: answered, or failed with a code of the API's or chatq's. */
export type MemberEnd =
  | { kind: "answer"; answer: LineAnswer }
  | {
      kind: "failed";
      code: LlmErrorCode | typeof BATCH_DEADLINE_EXCEEDED;
      message: string;
      retryable: boolean;
    };

/**
 * The same effect a synchronous answer has (store → publish), so a batch reply is stored, deduplicated and
 * published exactly like one: complete() keeps the first reply per request_id, whichever path wrote it.
 * Cost is at the batch price (the price table's batch_discount).
 */
export function batchOutcomeEffect(
  member: BatchMember,
  end: MemberEnd,
  ctx: BatchOutcomeContext,
): OutcomeEffect {
  const { request } = member;
  const latencyMs = Math.max(0, ctx.finishedAt.getTime() - member.receivedAt.getTime());
  const base = {
    request,
    model: member.model,
    apiMs: latencyMs,
    attempts: ctx.attempt,
    finishedAt: ctx.finishedAt,
    priceVersion: ctx.prices.version,
  };
  let outcome: Outcome;
  if (end.kind === "answer") {
    const { answer } = end;
    const cost = costOf(ctx.prices, member.model, {
      ...answer.usage,
      cachedPromptTokens: answer.cachedPromptTokens,
      batch: true,
    });
    outcome = {
      ...base,
      newTurns: request.messages,
      usage: answer.usage,
      ...(cost !== undefined && { costUsd: cost }),
      reply: completedReply(
        request.request_id,
        request.conversation_id,
        {},
        {
          model: answer.model || member.model,
          content: answer.content,
          finishReason: answer.finishReason,
          usage: answer.usage,
          costUsd: cost ?? 0,
          latencyMs,
          attempts: ctx.attempt,
        },
      ),
    };
  } else {
    const reply: ChatReply = {
      request_id: request.request_id,
      ...(request.conversation_id !== undefined && { conversation_id: request.conversation_id }),
      status: "failed",
      model: member.model,
      latency_ms: Math.round(latencyMs),
      attempts: ctx.attempt,
      error: { code: end.code, message: end.message.slice(0, 1000), retryable: end.retryable },
    };
    outcome = { ...base, newTurns: [], reply };
  }
  return {
    kind: "outcome",
    source: sourceOf(member),
    outcome,
    reply: {
      topic: request.reply_topic ?? ctx.replyTopic,
      key: request.conversation_id ?? request.request_id,
      value: JSON.stringify(outcome.reply),
    },
  };
}

/** The request's original Kafka record as far as the row knows it: a dead letter of its reply names it. */
function sourceOf(member: BatchMember): InRecord {
  const key = member.request.conversation_id ?? member.request.request_id;
  return {
    topic: member.source.topic,
    partition: member.source.partition,
    offset: member.source.offset,
    key: Buffer.from(key),
    value: Buffer.from(JSON.stringify(member.request)),
    headers: {},
    timestampMs: member.receivedAt.getTime(),
  };
}

/** Poll backoff: often while a batch is young, then less, up to `maxMs` (a 24 h batch is polled ~300 times). */
export function nextPollDelayMs(polls: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 1.5 ** Math.min(polls, 40));
}
