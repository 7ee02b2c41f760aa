import type { ChatMessage, Priority } from "@chatq/contracts";
import {
  type ChatAnswer,
  type ChatClient,
  classifyError,
  decideRetry,
  type LlmError,
  LlmError as LlmErrorClass,
  type RetryPolicy,
} from "@chatq/llm";
import { parseRateLimitHeaders, type RateLimiter, RequestTooLargeError } from "@chatq/ratelimit";
import type { AuditEvent } from "@chatq/store";
import { statusClassOf } from "@chatq/telemetry";
import type { ApiGates } from "./api-gates.ts";
import type { Admission, CircuitBreaker } from "./circuit-breaker.ts";
import type { Job } from "./job.ts";
import type { WorkerEvents } from "./worker-events.ts";

export interface AnswerDeps extends RetryDeps {
  client: ChatClient;
}

/** What every call through the gates, the limiter and the retry policy needs, whatever the endpoint. */
export interface RetryDeps {
  limiter: RateLimiter;
  gates: ApiGates;
  audit: (e: AuditEvent) => void;
  events: WorkerEvents;
  policy: RetryPolicy;
  timeoutMs: number;
  /** Resolves after ms, or early when the signal aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  now: () => number;
}

/**
 * The job stopped before reaching the API because the worker is stopping or its partition moved to another
 * member: its offset stays uncommitted and Kafka gives it to whoever owns it next.
 */
export class LeftForRedelivery extends Error {
  override readonly name = "LeftForRedelivery";
}

export type Answered = Called<ChatAnswer>;

export type Called<A> =
  | { ok: true; answer: A; attempts: number; apiMs: number }
  | { ok: false; error: LlmError; attempts: number; apiMs: number };

/** One API call to make until it succeeds: a chat completion, an embedding batch, a summary. */
export interface ApiTask<A extends { headers: Headers; usage: { prompt_tokens: number } }> {
  model: string;
  priority: Priority;
  /** Aborts the wait for a gate, budget or backoff (a moved partition, a stop). */
  lease: AbortSignal;
  ids: Pick<AuditEvent, "requestId" | "conversationId" | "tenant">;
  /** What it weighs against TPM: its prompt, and the answer budget (0 for embeddings). */
  weight: { promptTokens: number; outputBudget: number };
  /** One attempt. Throws LlmError. */
  call: () => Promise<A>;
}

/** A request's chat completion, through callWithRetries. */
export function answerWithRetries(
  job: Job,
  messages: ChatMessage[],
  weight: { promptTokens: number; outputBudget: number },
  deps: AnswerDeps,
): Promise<Answered> {
  const { request, model } = job;
  return callWithRetries(
    {
      model,
      priority: job.priority,
      lease: job.lease,
      ids: {
        requestId: request.request_id,
        ...(request.conversation_id !== undefined && { conversationId: request.conversation_id }),
        ...(request.tenant !== undefined && { tenant: request.tenant }),
      },
      weight,
      call: () =>
        deps.client.complete({
          model,
          messages,
          params: request.params,
          requestId: request.request_id,
          timeoutMs: deps.timeoutMs,
        }),
    },
    deps,
  );
}

/**
 * Calls the API for one task until it answers, fails for a reason of its own, or its retry deadline passes.
 * Before every call: the account gate, the model's circuit, then the shared rate limiter. After every answer its
 * headers correct the limiter. A failure that is the account's (bad key, no quota) or the whole API's (an outage
 * that opened the model's circuit) puts the job back behind that gate without charging it: it cannot fail because
 * of a condition of everyone. `attempts` in the result counts every call made.
 */
export async function callWithRetries<A extends { headers: Headers; usage: { prompt_tokens: number } }>(
  task: ApiTask<A>,
  deps: RetryDeps,
): Promise<Called<A>> {
  const { model, ids, weight, lease } = task;
  const own = new OwnRetryTime();
  const modelGate = deps.gates.model(model);
  let calls = 0;
  let charged = 0;
  let apiMs = 0;
  for (;;) {
    const waitStarted = deps.now();
    const account = await pass(deps.gates.account, lease);
    const modelAdmission = await pass(modelGate, lease).catch((err: unknown) => {
      deps.gates.account.abandoned(account);
      throw err;
    });
    const leave = () => {
      deps.gates.account.abandoned(account);
      modelGate.abandoned(modelAdmission);
    };
    let permit: Awaited<ReturnType<RateLimiter["acquire"]>>;
    try {
      permit = await deps.limiter.acquire({
        model,
        tokens: weight.promptTokens + weight.outputBudget,
        priority: task.priority,
        signal: lease,
      });
    } catch (err) {
      leave();
      if (err instanceof RequestTooLargeError) {
        // No budget can ever hold it: waiting would block its conversation forever.
        const error = new LlmErrorClass("bad_request", err.message, { cause: err });
        return { ok: false, error, attempts: calls, apiMs };
      }
      if (lease.aborted) throw new LeftForRedelivery();
      throw err;
    }
    if (lease.aborted) {
      // The wait for budget outlasted our ownership: the budget goes back and the new owner asks for it.
      permit.release();
      leave();
      throw new LeftForRedelivery();
    }
    // Waiting at a gate or for budget is not failing: it does not count against the request's retry deadline.
    own.exclude(deps.now() - waitStarted);
    deps.events.emit("budget_waited", {
      model,
      priority: task.priority,
      seconds: permit.waitedMs / 1000,
    });
    calls++;
    deps.audit({ ...ids, event: "attempt_started", attempt: calls, at: new Date() });
    const started = deps.now();
    try {
      const answer = await task.call();
      const ms = deps.now() - started;
      apiMs += ms;
      deps.gates.account.succeeded(account);
      modelGate.succeeded(modelAdmission);
      deps.events.emit("attempt", { model, outcome: "success", statusClass: "2xx", seconds: ms / 1000 });
      observeBudget(deps, model, answer.headers);
      // The API charges TPM at arrival with prompt + answer budget and gives nothing back for a short answer,
      // so only the prompt estimate is corrected; refunding unused completion tokens would overspend.
      permit.reconcile(answer.usage.prompt_tokens + weight.outputBudget);
      return { ok: true, answer, attempts: calls, apiMs };
    } catch (err) {
      const error = classifyError(err);
      const ms = deps.now() - started;
      apiMs += ms;
      const statusClass = statusClassOf(error.status ?? error.code);
      if (error.headers) observeBudget(deps, model, error.headers);
      deps.audit({
        ...ids,
        event: "attempt_failed",
        attempt: calls,
        ...(error.status !== undefined && { httpStatus: error.status }),
        errorCode: error.code,
        detail: { message: error.message.slice(0, 500), ms: Math.round(ms) },
        at: new Date(),
      });
      if (error.scope === "account") {
        // The account's condition, not the request's: back behind the gate, whose probe decides when to resume.
        modelGate.abandoned(modelAdmission);
        deps.gates.account.trip(error.code, error.retryAfterMs);
        deps.events.emit("attempt", { model, outcome: "requeued", statusClass, seconds: ms / 1000 });
        continue;
      }
      // Anything but a rejected key proves the key works (a trial of the account gate passed).
      deps.gates.account.succeeded(account);
      if (error.scope === "service") {
        const { ownFailure } = modelGate.failed(modelAdmission, error.code, error.retryAfterMs);
        if (!ownFailure) {
          // The API is down for everyone: wait behind the open circuit, retry after it closes, uncharged.
          deps.events.emit("attempt", { model, outcome: "requeued", statusClass, seconds: ms / 1000 });
          continue;
        }
      } else {
        // This request's own answer (a 400, a 429 of an overspent budget) says nothing about whether the model
        // serves: neither a success nor a failure for its circuit (a trial passes to the next waiter).
        modelGate.abandoned(modelAdmission);
      }
      if (error.code === "rate_limited") {
        deps.events.emit("rate_limited", { model });
        // One replica hitting 429 holds the model back for all of them, instead of each finding out alone.
        deps.limiter.holdBack(model, error.retryAfterMs ?? 1000);
      }
      charged++;
      own.start(deps.now() - ms);
      const decision = decideRetry(
        error,
        { attempt: charged, retryingMs: own.elapsed(deps.now()) },
        deps.policy,
        deps.random,
      );
      if (!decision.retry) {
        deps.events.emit("attempt", { model, outcome: "fail", statusClass, seconds: ms / 1000 });
        return {
          ok: false,
          error: withDeadlineNote(error, decision.why, own.elapsed(deps.now())),
          attempts: calls,
          apiMs,
        };
      }
      deps.events.emit("attempt", { model, outcome: "retry", statusClass, seconds: ms / 1000 });
      deps.events.emit("retry_scheduled", { reason: decision.reason });
      await deps.sleep(decision.delayMs, lease);
      if (lease.aborted) throw new LeftForRedelivery();
    }
  }
}

/** Through a gate, or out as LeftForRedelivery when the job's lease ends while it waits. */
async function pass(gate: CircuitBreaker, lease: AbortSignal): Promise<Admission> {
  try {
    return await gate.admit(lease);
  } catch {
    throw new LeftForRedelivery();
  }
}

/** A request that ran out of time says so: the producer sees why a transient error became final. */
function withDeadlineNote(error: LlmError, why: string, retryingMs: number): LlmError {
  if (why !== "deadline") return error;
  return new LlmErrorClass(
    error.code,
    `${error.message} (still failing after ${Math.round(retryingMs / 1000)} s of retries: the retry deadline passed)`,
    { status: error.status, retryAfterMs: error.retryAfterMs, headers: error.headers, shouldRetry: false },
  );
}

/**
 * The time a request has spent failing on its own: from its first charged failure, less the time it waited at a
 * gate or for budget (those are everyone's conditions, not its own).
 */
class OwnRetryTime {
  #since: number | undefined;
  #excluded = 0;

  start(at: number): void {
    this.#since ??= at;
  }

  exclude(ms: number): void {
    if (this.#since !== undefined) this.#excluded += ms;
  }

  elapsed(now: number): number {
    return this.#since === undefined ? 0 : Math.max(0, now - this.#since - this.#excluded);
  }
}

/** What the API says is left of the budget corrects the shared limiter and feeds the SRE's gauges. */
function observeBudget(deps: RetryDeps, model: string, headers: Headers): void {
  const observation = parseRateLimitHeaders(headers);
  deps.limiter.observe(model, observation);
  deps.events.emit("budget_observed", { model, observation });
}
