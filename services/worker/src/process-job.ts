import type { ChatMessage, HistoryMode, Retrieval, Source } from "@chatq/contracts";
import {
  classifyError,
  costUsd,
  countMessageTokens,
  countTextTokens,
  type EmbeddingClient,
  LlmError,
  modelInfo,
  outputBudget,
  PROMPT_OVERHEAD_TOKENS,
} from "@chatq/llm";
import type { SearchHit, VectorStore } from "@chatq/retrieval";
import type { Outcome, Store } from "@chatq/store";
import {
  type AnswerDeps,
  type Answered,
  answerWithRetries,
  LeftForRedelivery,
} from "./answer-with-retries.ts";
import { buildContext } from "./build-context.ts";
import { completedReply, failedReply } from "./build-reply.ts";
import type { Effect } from "./effects.ts";
import { type EmbedSettings, embedWithRetries } from "./embed-with-retries.ts";
import { type Job, replyTopicOf } from "./job.ts";
import { isStoreOutage } from "./retry-through-outage.ts";

export interface ProcessDeps {
  store: Pick<Store, "loadContext">;
  answer: AnswerDeps;
  context: ContextDeps;
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
  const { answered, promptTokens, history, sources } = await answer(job, deps);
  const context = { ...(history !== undefined && { history }), ...(sources !== undefined && { sources }) };
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
      reply: completedReply(request.request_id, conversationId, context, {
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

/** What a request's context may draw on besides its history: summaries and retrieval (each optional). */
export interface ContextDeps {
  /** The share of the model's context window given to history (summary and turns). */
  historyWindowShare: number;
  /** Asks for a conversation's dropped turns to be summarised in the background; undefined = summaries off. */
  summarise: ((conversationId: string, throughId: number, tenant: string | undefined) => void) | undefined;
  retrieval: RetrievalDeps | undefined;
}

export interface RetrievalDeps {
  store: VectorStore;
  embeddings: EmbeddingClient;
  embedding: EmbedSettings;
  /** A tenant's retrieval when its requests name none. */
  tenantDefaults: Readonly<Record<string, Retrieval>>;
}

interface Answer {
  answered: Answered;
  promptTokens: number;
  history?: HistoryMode;
  sources?: Source[];
}

/** History (+ summary) and retrieved context → context window → API. Every way this can end is an Answered; only a shutdown throws. */
async function answer(job: Job, deps: ProcessDeps): Promise<Answer> {
  const { request, model } = job;
  const conversationId = request.conversation_id;
  let stored: Awaited<ReturnType<Store["loadContext"]>> = { summary: undefined, turns: [] };
  if (conversationId !== undefined && deps.historyMaxMessages > 0) {
    try {
      stored = await deps.withStoreRetry(() =>
        deps.store.loadContext(conversationId, { limit: deps.historyMaxMessages }),
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
  const retrieved = await retrieve(job, deps);
  if (!retrieved.ok) return { answered: failure(retrieved.error), promptTokens: 0 };

  const info = modelInfo(model);
  const maxTokens = outputBudget(model, request.params);
  const budget = info.contextWindow - maxTokens - PROMPT_OVERHEAD_TOKENS;
  const built = buildContext(
    {
      summary: stored.summary?.text,
      history: stored.turns,
      fresh: request.messages,
      retrieved: retrieved.hits,
    },
    { totalTokens: budget, historyTokens: Math.floor(info.contextWindow * deps.context.historyWindowShare) },
    (m) => countMessageTokens(model, m),
  );
  const promptTokens = built.promptTokens + PROMPT_OVERHEAD_TOKENS;
  if (built.promptTokens > budget) {
    // Would be a 400 from the API anyway: say so without spending a call or any budget.
    const why = `the request's own messages need ${promptTokens} tokens; ${model} leaves ${budget} for the prompt after an answer budget of ${maxTokens}`;
    return { answered: failure(new LlmError("context_length", why)), promptTokens };
  }
  if (conversationId !== undefined && built.summariseThroughId !== undefined) {
    // Never on the answer's path: this request goes out trimmed now, the summary is for the next one.
    deps.context.summarise?.(conversationId, built.summariseThroughId, request.tenant);
  }
  const answered = await answerOrFail(
    job,
    built.messages,
    { promptTokens, outputBudget: maxTokens },
    deps.answer,
  );
  return {
    answered,
    promptTokens,
    ...(conversationId !== undefined && { history: built.history }),
    ...(retrieved.asked && {
      sources: built.sources.map((h) => ({
        document: h.document,
        chunk: h.chunk,
        score: roundScore(h.score),
      })),
    }),
  };
}

/** The request's retrieval (or its tenant's default): the top-k chunks for its last user turn. */
async function retrieve(
  job: Job,
  deps: ProcessDeps,
): Promise<{ ok: true; asked: boolean; hits: SearchHit[] } | { ok: false; error: LlmError }> {
  const { request } = job;
  const tenant = request.tenant;
  const asked =
    request.retrieval ?? (tenant === undefined ? undefined : deps.context.retrieval?.tenantDefaults[tenant]);
  if (asked === undefined) return { ok: true, asked: false, hits: [] };
  const r = deps.context.retrieval;
  if (r === undefined) {
    return {
      ok: false,
      error: new LlmError(
        "bad_request",
        "retrieval was asked for, but this worker has no vector store (RETRIEVAL_STORE=off)",
      ),
    };
  }
  if (tenant === undefined) {
    return {
      ok: false,
      error: new LlmError(
        "bad_request",
        "retrieval needs the request's tenant: documents belong to a tenant",
      ),
    };
  }
  const query = request.messages.filter((m) => m.role === "user").at(-1)?.content;
  if (query === undefined) return { ok: true, asked: true, hits: [] };
  const embed = embedWithRetries(r.embeddings, deps.answer, r.embedding, {
    priority: job.priority,
    lease: job.lease,
    ids: {
      requestId: request.request_id,
      tenant,
      ...(request.conversation_id !== undefined && { conversationId: request.conversation_id }),
    },
  });
  try {
    const [vector] = await embed([query], [countTextTokens(r.embedding.model, query)]);
    const hits = await r.store.search({
      tenant,
      collection: asked.collection,
      embedding: vector as Float32Array,
      k: asked.k,
    });
    return { ok: true, asked: true, hits };
  } catch (err) {
    if (err instanceof LeftForRedelivery || job.lease.aborted) throw err;
    return {
      ok: false,
      error:
        err instanceof LlmError
          ? err
          : new LlmError("unknown", `retrieval failed: ${(err as Error).message}`),
    };
  }
}

/** Scores to 4 decimals: enough to rank, and the reply stays short. */
function roundScore(score: number): number {
  return Math.round(score * 10_000) / 10_000;
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
