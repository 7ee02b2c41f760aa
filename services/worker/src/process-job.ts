import type { ChatMessage } from "@chatq/contracts";
import {
  classifyError,
  costUsd,
  countMessageTokens,
  LlmError,
  modelInfo,
  outputBudget,
  PROMPT_OVERHEAD_TOKENS,
} from "@chatq/llm";
import type { Outcome, Store } from "@chatq/store";
import {
  type AnswerDeps,
  type Answered,
  answerWithRetries,
  LeftForRedelivery,
} from "./answer-with-retries.ts";
import { completedReply, failedReply } from "./build-reply.ts";
import type { Effect } from "./effects.ts";
import { fitContext } from "./fit-context.ts";
import { type Job, replyTopicOf } from "./job.ts";
import { isStoreOutage } from "./retry-through-outage.ts";

export interface ProcessDeps {
  store: Pick<Store, "loadHistory">;
  answer: AnswerDeps;
  historyMaxMessages: number;
  replyTopic: string;
  /** Retries reads that fail because Postgres is away; the request waits rather than failing. */
  withStoreRetry: <T>(fn: () => Promise<T>) => Promise<T>;
}

export type OutcomeEffect = Extract<Effect, { kind: "outcome" }>;

/** Answers one request: its history, what fits the context window, the API call, and the reply to store. */
export async function processJob(
  job: Job,
  deps: ProcessDeps,
): Promise<{ effect: OutcomeEffect; estimatedPromptTokens: number }> {
  const { request, model } = job;
  const conversationId = request.conversation_id;
  const { answered, promptTokens } = await answer(job, deps);
  const latencyMs = deps.answer.now() - job.receivedAt;
  const base = {
    request,
    model,
    apiMs: answered.apiMs,
    attempts: answered.attempts,
    finishedAt: new Date(),
  };
  let outcome: Outcome;
  if (answered.ok) {
    const { answer } = answered;
    const cost = costUsd(model, answer.usage);
    outcome = {
      ...base,
      newTurns: request.messages,
      usage: answer.usage,
      costUsd: cost,
      reply: completedReply(request.request_id, conversationId, {
        model: answer.model,
        content: answer.content,
        finishReason: answer.finishReason,
        usage: answer.usage,
        costUsd: cost,
        latencyMs,
        attempts: answered.attempts,
      }),
    };
  } else {
    outcome = {
      ...base,
      newTurns: [],
      reply: failedReply(request.request_id, conversationId, {
        model,
        error: answered.error,
        latencyMs,
        attempts: answered.attempts,
      }),
    };
  }
  return {
    estimatedPromptTokens: promptTokens,
    effect: {
      kind: "outcome",
      source: job.source,
      outcome,
      reply: {
        topic: replyTopicOf(request, deps.replyTopic),
        key: job.key,
        value: JSON.stringify(outcome.reply),
      },
    },
  };
}

/** History → context window → API. Every way this can end is an Answered; only a shutdown throws. */
async function answer(job: Job, deps: ProcessDeps): Promise<{ answered: Answered; promptTokens: number }> {
  const { request, model } = job;
  const conversationId = request.conversation_id;
  let history: ChatMessage[] = [];
  if (conversationId !== undefined && deps.historyMaxMessages > 0) {
    try {
      history = await deps.withStoreRetry(() =>
        deps.store.loadHistory(conversationId, { limit: deps.historyMaxMessages }),
      );
    } catch (err) {
      // An outage is retried inside withStoreRetry and escapes only at a stop (which goes on up); anything else
      // (a refusal, a bug) would fail again the same way: the request fails with the reason.
      if (isStoreOutage(err) || job.lease.aborted) throw err;
      return {
        answered: failure(
          new LlmError("unknown", `the conversation's history cannot be read: ${(err as Error).message}`),
        ),
        promptTokens: 0,
      };
    }
  }

  const info = modelInfo(model);
  const maxTokens = outputBudget(model, request.params);
  const budget = info.contextWindow - maxTokens - PROMPT_OVERHEAD_TOKENS;
  const fit = fitContext(history, request.messages, budget, (m) => countMessageTokens(model, m));
  const promptTokens = fit.promptTokens + PROMPT_OVERHEAD_TOKENS;
  if (fit.promptTokens > budget) {
    // Would be a 400 from the API anyway: say so without spending a call or any budget.
    const why = `the request's own messages need ${promptTokens} tokens; ${model} leaves ${budget} for the prompt after an answer budget of ${maxTokens}`;
    return { answered: failure(new LlmError("context_length", why)), promptTokens };
  }
  const answered = await answerOrFail(
    job,
    fit.messages,
    { promptTokens, outputBudget: maxTokens },
    deps.answer,
  );
  return { answered, promptTokens };
}

function failure(error: LlmError): Answered {
  return { ok: false, error, attempts: 0, apiMs: 0 };
}

/**
 * Anything unexpected (a bug, a limiter fault) fails this request with its reason rather than leaving its
 * offset uncommitted forever, which would stall its partition. Only a shutdown escapes.
 */
async function answerOrFail(
  job: Job,
  messages: ChatMessage[],
  weight: { promptTokens: number; outputBudget: number },
  deps: AnswerDeps,
): Promise<Answered> {
  try {
    return await answerWithRetries(job, messages, weight, deps);
  } catch (err) {
    if (err instanceof LeftForRedelivery || job.lease.aborted) throw err;
    return failure(classifyError(err));
  }
}
