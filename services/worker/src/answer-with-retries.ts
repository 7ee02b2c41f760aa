import type { ChatMessage } from "@chatq/contracts";
import {
  type ChatAnswer,
  type ChatClient,
  classifyError,
  decideRetry,
  LlmError,
  type RetryPolicy,
} from "@chatq/llm";
import { parseRateLimitHeaders, type RateLimiter, RequestTooLargeError } from "@chatq/ratelimit";
import type { AuditEvent } from "@chatq/store";
import { type ChatqMetrics, statusClassOf } from "@chatq/telemetry";
import type { AuthGate } from "./auth-gate.ts";
import type { Job } from "./job.ts";

export interface AnswerDeps {
  client: ChatClient;
  limiter: RateLimiter;
  gate: AuthGate;
  audit: (e: AuditEvent) => void;
  metrics: ChatqMetrics;
  policy: RetryPolicy;
  timeoutMs: number;
  /** Resolves after ms, or early when the signal aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  now: () => number;
  /** Fires at shutdown: a job that has not reached the API yet stops waiting (and stays uncommitted). */
  shutdown: AbortSignal;
  /**
   * Aborts once this job's partition belongs to another member after a rebalance (its new owner will answer it):
   * a wait for budget or a backoff ends at once and gives its place in the shared budget back.
   */
  lease: (job: Job) => AbortSignal;
}

const MAX_ACCOUNT_ROUNDS = 5;

/**
 * The job stopped before reaching the API because the worker is stopping or its partition moved to another
 * member: its offset stays uncommitted and Kafka gives it to whoever owns it next.
 */
export class LeftForRedelivery extends Error {
  override readonly name = "LeftForRedelivery";
}

export type Answered =
  | { ok: true; answer: ChatAnswer; attempts: number; apiMs: number }
  | { ok: false; error: LlmError; attempts: number; apiMs: number };

/**
 * Calls the API for one job until it answers, fails for good, or runs out of attempts. Before every attempt the
 * shared rate limiter grants the request and its tokens; after every answer its headers correct the limiter.
 * An account-wide error (bad key, no quota) is not the request's fault: it waits at the auth gate and tries again
 * without spending an attempt.
 */
export async function answerWithRetries(
  job: Job,
  messages: ChatMessage[],
  /** What the request weighs against TPM: its prompt, and the answer budget (max_tokens or the model's default). */
  weight: { promptTokens: number; outputBudget: number },
  deps: AnswerDeps,
): Promise<Answered> {
  const { request, model } = job;
  const ids: Pick<AuditEvent, "requestId" | "conversationId" | "tenant"> = {
    requestId: request.request_id,
    ...(request.conversation_id !== undefined && { conversationId: request.conversation_id }),
    ...(request.tenant !== undefined && { tenant: request.tenant }),
  };
  let attempt = 0;
  let apiMs = 0;
  let accountRounds = 0;
  // A stop or a rebalance: either way the job is left, uncommitted, for whoever owns its partition next.
  const leave = AbortSignal.any([deps.shutdown, deps.lease(job)]);
  for (;;) {
    await deps.gate.whenOpen();
    if (leave.aborted) throw new LeftForRedelivery();
    let permit: Awaited<ReturnType<RateLimiter["acquire"]>>;
    try {
      permit = await deps.limiter.acquire({
        model,
        tokens: weight.promptTokens + weight.outputBudget,
        priority: job.priority,
        signal: leave,
      });
    } catch (err) {
      if (err instanceof RequestTooLargeError) {
        // No budget can ever hold it: waiting would block its conversation forever.
        return {
          ok: false,
          error: new LlmError("bad_request", err.message, { cause: err }),
          attempts: attempt,
          apiMs,
        };
      }
      if (leave.aborted) throw new LeftForRedelivery();
      throw err;
    }
    if (leave.aborted) {
      // Granted in the same moment the job stopped being ours: the call is not made, so the request slot and
      // the tokens go back to the budget (for this worker's other work, or the partition's new owner).
      permit.release();
      throw new LeftForRedelivery();
    }
    deps.metrics.ratelimitWait.observe({ model, priority: job.priority }, permit.waitedMs / 1000);
    attempt++;
    deps.audit({ ...ids, event: "attempt_started", attempt, at: new Date() });
    const started = deps.now();
    try {
      const answer = await deps.client.complete({
        model,
        messages,
        params: request.params,
        requestId: request.request_id,
        timeoutMs: deps.timeoutMs,
      });
      const ms = deps.now() - started;
      apiMs += ms;
      deps.metrics.openaiRequestDuration.observe({ model, status_class: "2xx" }, ms / 1000);
      deps.metrics.openaiAttempts.inc({ model, outcome: "success" });
      observeBudget(deps, model, answer.headers);
      // The API charges TPM at arrival with prompt + answer budget and gives nothing back for a short answer,
      // so only the prompt estimate is corrected; refunding unused completion tokens would overspend.
      permit.reconcile(answer.usage.prompt_tokens + weight.outputBudget);
      return { ok: true, answer, attempts: attempt, apiMs };
    } catch (err) {
      const error = classifyError(err);
      const ms = deps.now() - started;
      apiMs += ms;
      deps.metrics.openaiRequestDuration.observe(
        { model, status_class: statusClassOf(error.status ?? error.code) },
        ms / 1000,
      );
      if (error.headers) observeBudget(deps, model, error.headers);
      if (error.code === "rate_limited") {
        deps.metrics.openaiRateLimited.inc({ model });
        // One replica hitting 429 holds the model back for all of them, instead of each finding out alone.
        deps.limiter.holdBack(model, error.retryAfterMs ?? 1000);
      }
      deps.audit({
        ...ids,
        event: "attempt_failed",
        attempt,
        ...(error.status !== undefined && { httpStatus: error.status }),
        errorCode: error.code,
        detail: { message: error.message.slice(0, 500), ms: Math.round(ms) },
        at: new Date(),
      });
      // The gate reopens when a probe (GET /models) succeeds; a request that meets the same account-wide error
      // again and again is the exception the probe cannot see, so after a few rounds it fails like any other.
      if (error.accountWide && ++accountRounds <= MAX_ACCOUNT_ROUNDS) {
        deps.metrics.openaiAttempts.inc({ model, outcome: "retry" });
        deps.gate.trip(error);
        attempt--; // the account's fault, not the request's: this attempt does not count
        continue;
      }
      const decision = decideRetry(error, attempt, deps.policy, deps.random);
      if (!decision.retry) {
        deps.metrics.openaiAttempts.inc({ model, outcome: "fail" });
        return { ok: false, error, attempts: attempt, apiMs };
      }
      deps.metrics.openaiAttempts.inc({ model, outcome: "retry" });
      deps.metrics.retries.inc({ reason: decision.reason });
      await deps.sleep(decision.delayMs, leave);
    }
  }
}

/** What the API says is left of the budget corrects the shared limiter and feeds the SRE's gauges. */
function observeBudget(deps: AnswerDeps, model: string, headers: Headers): void {
  const o = parseRateLimitHeaders(headers);
  deps.limiter.observe(model, o);
  const gauges = deps.metrics;
  if (o.remainingRequests !== undefined)
    gauges.openaiRatelimitRemaining.set({ model, kind: "requests" }, o.remainingRequests);
  if (o.remainingTokens !== undefined)
    gauges.openaiRatelimitRemaining.set({ model, kind: "tokens" }, o.remainingTokens);
  if (o.limitRequests !== undefined)
    gauges.openaiRatelimitLimit.set({ model, kind: "requests" }, o.limitRequests);
  if (o.limitTokens !== undefined) gauges.openaiRatelimitLimit.set({ model, kind: "tokens" }, o.limitTokens);
}
