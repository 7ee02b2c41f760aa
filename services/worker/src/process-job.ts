import type { ChatMessage, ChatReply, HistoryMode, Retrieval, Source } from "@chatq/contracts";
import {
  type ChatClient,
  classifyError,
  costOf,
  countMessageTokens,
  countTextTokens,
  type EmbeddingClient,
  LlmError,
  modelInfo,
  outputBudget,
  PROMPT_OVERHEAD_TOKENS,
  type PriceTable,
} from "@chatq/llm";
import type { SearchHit, VectorStore } from "@chatq/retrieval";
import { DEFAULT_DEPLOYMENT, type FallbackReason, type RouteTable, type Target } from "@chatq/routing";
import type { Outcome, Store } from "@chatq/store";
import {
  type AnswerDeps,
  type Answered,
  answerWithRetries,
  type CallTarget,
  type FellBack,
  LeftForRedelivery,
} from "./answer-with-retries.ts";
import { buildContext } from "./build-context.ts";
import { completedReply, failedReply, refusedReply, withRouting } from "./build-reply.ts";
import type { Effect } from "./effects.ts";
import { type EmbedSettings, embedWithRetries } from "./embed-with-retries.ts";
import { type GuardDeps, guardInput } from "./guard-request.ts";
import { type Job, replyTopicOf } from "./job.ts";
import { isStoreOutage } from "./retry-through-outage.ts";
import { routeRequest } from "./route-request.ts";
import { type BudgetDecision, decideBudget, type TenantBudget } from "./tenant-budget.ts";

export interface ProcessDeps {
  store: Pick<Store, "loadContext">;
  answer: AnswerDeps;
  context: ContextDeps;
  historyMaxMessages: number;
  replyTopic: string;
  /** Retries reads that fail because Postgres is away; the request waits rather than failing. */
  withStoreRetry: <T>(fn: () => Promise<T>) => Promise<T>;
  routing: RoutingDeps;
  /** Guardrails (GUARDRAILS_ENABLED); absent: requests go to the API as they are. */
  guard?: GuardDeps | undefined;
  /** Set by processJob from the guardrails: what every message list sent to the API goes through. */
  outgoing?: ((messages: ChatMessage[]) => ChatMessage[]) | undefined;
}

/** What routing, pricing and budgets need; each part is optional in effect (an empty table, no policy). */
export interface RoutingDeps {
  table: () => RouteTable;
  /** The API client of a routed deployment (the default deployment is AnswerDeps.client). */
  clientFor: (target: Target) => ChatClient;
  /** The longest wait for a deployment's budget before falling back. */
  waitBudgetMs: (target: Target) => number;
  prices: () => PriceTable;
  budgetOf: (tenant: string | undefined) => TenantBudget | undefined;
  tenantSpend: (tenant: string) => Promise<{ dayUsd: number; monthUsd: number }>;
  /** A cost just incurred, counted against the tenant's budget before its usage row is written. */
  charge: (tenant: string, usd: number) => void;
  /** Epoch ms: route deprecations and budget periods are calendar dates. */
  clock: () => number;
}

/** Where a request went: its route and variant, the deployment that answered (or last tried), what it left. */
interface RouteTaken {
  route?: string | undefined;
  variant?: string | undefined;
  target: Target;
  fallbacks: { from: string; reason: FallbackReason }[];
}

export type OutcomeEffect = Extract<Effect, { kind: "outcome" }>;

/** Answers one request: its history, what fits the context window, the API call, and the reply to store. */
export async function processJob(
  job: Job,
  deps: ProcessDeps,
): Promise<{ effect: OutcomeEffect; estimatedPromptTokens: number }> {
  const { request } = job;
  const conversationId = request.conversation_id;
  const refusal = await refuseBeforeCall(job, deps);
  if (refusal !== undefined) return refusal;
  // Before the call: a stop (moderation, a refused topic, a blocked injection) costs no chat call and no budget.
  const guard = await guardInput(job, deps.guard, deps.answer);
  if (guard?.kind === "stop") return refused(job, deps, guard.code, guard.message, false, guard.decorate);
  const { answered, promptTokens, taken, history, sources } = await answer(
    job,
    guard ? { ...deps, outgoing: guard.outgoing } : deps,
  );
  const context = { ...(history !== undefined && { history }), ...(sources !== undefined && { sources }) };
  const latencyMs = deps.answer.now() - job.receivedAt;
  // Cost, tokens and the stored model are the deployment's that answered, not the name the producer asked for.
  const model = taken?.target.model ?? job.model;
  const prices = deps.routing.prices();
  const base = {
    request,
    model,
    apiMs: answered.apiMs,
    attempts: answered.attempts,
    finishedAt: new Date(),
    priceVersion: prices.version,
    ...(taken && { routing: routingOf(taken) }),
  };
  let outcome: Outcome;
  if (answered.ok) {
    const { answer } = answered;
    const cost = costOf(prices, model, { ...answer.usage, cachedPromptTokens: answer.cachedPromptTokens });
    if (cost !== undefined && request.tenant !== undefined) deps.routing.charge(request.tenant, cost);
    outcome = {
      ...base,
      newTurns: request.messages,
      usage: answer.usage,
      ...(cost !== undefined && { costUsd: cost }),
      reply: completedReply(request.request_id, conversationId, context, {
        model: answer.model,
        content: answer.content,
        finishReason: answer.finishReason,
        usage: answer.usage,
        costUsd: cost ?? 0,
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
  if (taken) outcome.reply = withRouting(outcome.reply, { ...taken, deployment: taken.target.deployment });
  // After the call: the answer moderated, its placeholders restored, before it is stored and published.
  if (guard) outcome = await guard.finish(outcome);
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

/** What the request's context was built from, as the reply reports it. */
interface ContextUsed {
  history?: HistoryMode;
  sources?: Source[];
}

type Stored = Awaited<ReturnType<Store["loadContext"]>>;
type Retrieved = { asked: boolean; hits: SearchHit[] };

/**
 * History (+ summary) and retrieved context → route → per deployment: context window → API. Every end is an
 * Answered; only a shutdown throws.
 */
async function answer(
  job: Job,
  deps: ProcessDeps,
): Promise<{ answered: Answered; promptTokens: number; taken?: RouteTaken } & ContextUsed> {
  const { request } = job;
  const conversationId = request.conversation_id;
  let stored: Stored = { summary: undefined, turns: [] };
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

  const resolution = routeRequest(job, deps.routing.table(), deps.routing.clock());
  // refuseBeforeCall turned a retired model away already; the table may have changed since, so check again.
  if (!resolution.ok)
    return { answered: failure(new LlmError("not_found", resolution.message)), promptTokens: 0 };
  const unrouted = resolution.route === undefined && resolution.chain[0]?.deployment === DEFAULT_DEPLOYMENT;
  const taken: RouteTaken | undefined = unrouted
    ? undefined
    : {
        route: resolution.route,
        variant: resolution.variant,
        target: resolution.chain[0] as Target,
        fallbacks: [],
      };
  if (resolution.deprecated) deps.answer.events.emit("deprecated_model", resolution.deprecated);
  let last: ({ answered: Answered; promptTokens: number } & ContextUsed) | undefined;
  for (const [i, target] of resolution.chain.entries()) {
    const isLast = i === resolution.chain.length - 1;
    if (taken) taken.target = target;
    const at: CallTarget | undefined = unrouted
      ? target.model === job.model
        ? undefined
        : // A retired model routed to its replacement: the worker's own client, the replacement's budget.
          {
            model: target.model,
            key: target.model,
            client: deps.answer.client,
            isLast: true,
            waitBudgetMs: 0,
          }
      : {
          model: target.model,
          key: `@${target.deployment}`,
          client: deps.routing.clientFor(target),
          isLast,
          waitBudgetMs: deps.routing.waitBudgetMs(target),
        };
    const tried = await answerAt(job, target.model, { stored, retrieved }, deps, at);
    if (tried.answered.ok === "fallback") {
      taken?.fallbacks.push({ from: target.deployment, reason: tried.answered.reason });
      continue;
    }
    last = { ...tried, answered: tried.answered };
    break;
  }
  if (taken && resolution.route !== undefined) {
    deps.answer.events.emit("routed", {
      route: resolution.route,
      variant: resolution.variant,
      deployment: taken.target.deployment,
      fallbacks: taken.fallbacks,
    });
  }
  // The last deployment never falls back, so the loop always ends with an answer.
  return { ...(last as { answered: Answered; promptTokens: number } & ContextUsed), ...(taken && { taken }) };
}

/** One deployment: what fits its model's context window, then the API (a deployment that cannot take it: next). */
async function answerAt(
  job: Job,
  model: string,
  { stored, retrieved }: { stored: Stored; retrieved: Retrieved },
  deps: ProcessDeps,
  at: CallTarget | undefined,
): Promise<{ answered: Answered | FellBack; promptTokens: number } & ContextUsed> {
  const { request } = job;
  const conversationId = request.conversation_id;
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
    if (at !== undefined && !at.isLast) return { answered: fellBack("context_length"), promptTokens };
    return { answered: failure(new LlmError("context_length", why)), promptTokens };
  }
  if (conversationId !== undefined && built.summariseThroughId !== undefined) {
    // Never on the answer's path: this request goes out trimmed now, the summary is for the next one.
    deps.context.summarise?.(conversationId, built.summariseThroughId, request.tenant);
  }
  const answered = await answerOrFail(
    job,
    deps.outgoing?.(built.messages) ?? built.messages,
    { promptTokens, outputBudget: maxTokens },
    deps.answer,
    at,
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

function fellBack(reason: FallbackReason): FellBack {
  return { ok: "fallback", reason, attempts: 0, apiMs: 0 };
}

function routingOf(t: RouteTaken): NonNullable<Outcome["routing"]> {
  return {
    ...(t.route !== undefined && { route: t.route }),
    ...(t.variant !== undefined && { variant: t.variant }),
    deployment: t.target.deployment,
    ...(t.fallbacks.length > 0 && {
      fallbackReason: t.fallbacks.map((f) => `${f.from}:${f.reason}`).join(","),
    }),
  };
}

/**
 * Refusals that need no API call: a retired model whose deprecation says reject, and a tenant over its budget
 * (or, by its policy, held until the period resets). Nothing is charged; the reply says why and when.
 */
async function refuseBeforeCall(
  job: Job,
  deps: ProcessDeps,
): Promise<{ effect: OutcomeEffect; estimatedPromptTokens: number } | undefined> {
  const { request } = job;
  const resolution = routeRequest(job, deps.routing.table(), deps.routing.clock());
  if (!resolution.ok) return refused(job, deps, resolution.code, resolution.message, false);
  const tenant = request.tenant;
  const budget = deps.routing.budgetOf(tenant);
  if (tenant === undefined || budget === undefined) return undefined;
  for (;;) {
    const spend = await deps.withStoreRetry(() => deps.routing.tenantSpend(tenant));
    const decision: BudgetDecision = decideBudget(budget, spend, deps.routing.clock());
    deps.answer.events.emit("budget_checked", { tenant, decision });
    if (decision.kind === "admit") return undefined;
    if (decision.kind === "reject") {
      const message = `tenant ${tenant} reached its ${decision.period === "day" ? "daily" : "monthly"} budget of $${decision.limitUsd} ($${decision.spentUsd.toFixed(6)} spent); it resets at ${new Date(decision.resetsAtMs).toISOString()}`;
      return refused(job, deps, "budget_exceeded", message, true);
    }
    // Held: the request waits for the reset (its lease lets go at a rebalance or a stop, uncommitted).
    await deps.answer.sleep(Math.max(0, decision.resetsAtMs - deps.routing.clock()) + 1000, job.lease);
    if (job.lease.aborted) throw new LeftForRedelivery();
  }
}

function refused(
  job: Job,
  deps: ProcessDeps,
  code: string,
  message: string,
  retryable: boolean,
  decorate: (reply: ChatReply) => ChatReply = (r) => r,
): { effect: OutcomeEffect; estimatedPromptTokens: number } {
  const { request } = job;
  const reply = decorate(
    refusedReply(request.request_id, request.conversation_id, {
      model: job.model,
      code,
      message,
      retryable,
      latencyMs: deps.answer.now() - job.receivedAt,
    }),
  );
  const outcome: Outcome = {
    request,
    model: job.model,
    reply,
    newTurns: [],
    apiMs: 0,
    attempts: 0,
    finishedAt: new Date(),
  };
  return {
    estimatedPromptTokens: 0,
    effect: {
      kind: "outcome",
      source: job.source,
      outcome,
      reply: { topic: replyTopicOf(request, deps.replyTopic), key: job.key, value: JSON.stringify(reply) },
    },
  };
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
  at?: CallTarget,
): Promise<Answered | FellBack> {
  try {
    return await answerWithRetries(job, messages, weight, deps, at);
  } catch (err) {
    if (err instanceof LeftForRedelivery || job.lease.aborted) throw err;
    return failure(classifyError(err));
  }
}
