import type { ChatMessage } from "@chatq/contracts";
import {
  classifyError,
  costUsd,
  countMessageTokens,
  LlmError,
  modelInfo,
  PROMPT_OVERHEAD_TOKENS,
} from "@chatq/llm";
import type { Outcome, Store } from "@chatq/store";
import { type AnswerDeps, type Answered, answerWithRetries, ShutdownAbort } from "./answer-with-retries.ts";
import { completedReply, failedReply } from "./build-reply.ts";
import type { Effect } from "./effects.ts";
import { fitContext } from "./fit-context.ts";
import { type Job, replyTopicOf } from "./job.ts";

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
  const history: ChatMessage[] =
    conversationId !== undefined && deps.historyMaxMessages > 0
      ? await deps.withStoreRetry(() =>
          deps.store.loadHistory(conversationId, { limit: deps.historyMaxMessages }),
        )
      : [];

  const info = modelInfo(model);
  const maxTokens = request.params?.max_tokens ?? info.defaultOutputBudget;
  const budget = info.contextWindow - maxTokens - PROMPT_OVERHEAD_TOKENS;
  const fit = fitContext(history, request.messages, budget, (m) => countMessageTokens(model, m));
  const promptTokens = fit.promptTokens + PROMPT_OVERHEAD_TOKENS;

  const answered =
    fit.promptTokens > budget
      ? // Would be a 400 from the API anyway: say so without spending a call or any budget.
        {
          ok: false as const,
          error: new LlmError(
            "context_length",
            `the request's own messages need ${promptTokens} tokens; ${model} leaves ${budget} for the prompt after max_tokens ${maxTokens}`,
          ),
          attempts: 0,
          apiMs: 0,
        }
      : await answerOrFail(job, fit.messages, { promptTokens, outputBudget: maxTokens }, deps.answer);

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
    if (err instanceof ShutdownAbort || deps.shutdown.aborted) throw err;
    return { ok: false, error: classifyError(err), attempts: 0, apiMs: 0 };
  }
}
