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
import { type FallbackReason, fallbackReason } from "@chatq/routing";
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

/** The deployment left for the next one of its route's chain, and why (see @chatq/routing fallbackReason). */
export type FellBack = { ok: "fallback"; reason: FallbackReason; attempts: number; apiMs: number };

type Reply = { headers: Headers; usage: { prompt_tokens: number } };

/** One API call to make until it succeeds: a chat completion, an embedding batch, a summary. */
export interface ApiTask<A extends Reply> {
  /** The model id sent to the API. */
  model: string;
  priority: Priority;
  /** Aborts the wait for a gate, budget or backoff (a moved partition, a stop). */
  lease: AbortSignal;
  ids: Pick<AuditEvent, "requestId" | "conversationId" | "tenant">;
  /** What it weighs against TPM: its prompt, and the answer budget (0 for embeddings). */
  weight: { promptTokens: number; outputBudget: number };
  /** One attempt. Throws LlmError. */
  call: () => Promise<A>;
  /** A routed call: the deployment of a route's chain it goes to. Absent: the model's own bucket and circuit. */
  deployment?: Deployment;
}

/** One deployment of a route's chain, as callWithRetries sees it. */
export interface Deployment {
  /** This deployment's limiter bucket and circuit. */
  key: string;
  /** No deployment follows: wait and retry here as an unrouted request does. */
  isLast: boolean;
  /** Longest wait for this deployment's budget before the next one answers instead. */
  waitBudgetMs: number;
}

/** One deployment of a route's chain, as answerWithRetries calls it. */
export interface CallTarget extends Deployment {
  /** The model id sent to the API. */
  model: string;
  client: ChatClient;
}

/** A request's chat completion, through callWithRetries; `at` is the routed deployment, if any. */
export function answerWithRetries(
  job: Job,
  messages: ChatMessage[],
  /** What the request weighs against TPM: its prompt, and the answer budget (max_tokens or the model's default). */
  weight: { promptTokens: number; outputBudget: number },
  deps: AnswerDeps,
  /** Absent: the job's model on the worker's own client, as before routing. */
  at?: CallTarget,
): Promise<Answered | FellBack> {
  const { request } = job;
  const model = at?.model ?? job.model;
  const client = at?.client ?? deps.client;
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
        client.complete({
          model,
          messages,
          params: request.params,
          requestId: request.request_id,
          timeoutMs: deps.timeoutMs,
        }),
      ...(at && { deployment: { key: at.key, isLast: at.isLast, waitBudgetMs: at.waitBudgetMs } }),
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
export function callWithRetries<A extends Reply>(
  task: ApiTask<A> & { deployment?: undefined },
  deps: RetryDeps,
): Promise<Called<A>>;
export function callWithRetries<A extends Reply>(
  task: ApiTask<A>,
  deps: RetryDeps,
): Promise<Called<A> | FellBack>;
export async function callWithRetries<A extends Reply>(
  task: ApiTask<A>,
  deps: RetryDeps,
): Promise<Called<A> | FellBack> {
  const { model, ids, weight, lease } = task;
  const target: Deployment = task.deployment ?? { key: model, isLast: true, waitBudgetMs: 0 };
  const { key } = target;
  const own = new OwnRetryTime();
  const modelGate = deps.gates.model(key, { routed: key !== model });
  let calls = 0;
  let charged = 0;
  let apiMs = 0;
  for (;;) {
    const circuit = { state: modelGate.state(), trialAvailable: modelGate.trialAvailable() };
    const leaveClosed = fallbackReason({ kind: "circuit", ...circuit }, target.isLast);
    if (leaveClosed) return { ok: "fallback", reason: leaveClosed, attempts: calls, apiMs };
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
    // With a deployment to fall back to, the wait for this one's budget is bounded by its wait budget.
    const bounded = target.isLast ? undefined : boundedWait(lease, target.waitBudgetMs);
    try {
      permit = await deps.limiter.acquire({
        model: key,
        tokens: weight.promptTokens + weight.outputBudget,
        priority: task.priority,
        signal: bounded?.signal ?? lease,
      });
    } catch (err) {
      bounded?.done();
      leave();
      if (bounded?.timedOut() && !lease.aborted) {
        const signal = {
          kind: "budget_wait" as const,
          expectedWaitMs: Infinity,
          waitBudgetMs: target.waitBudgetMs,
        };
        const reason = fallbackReason(signal, target.isLast);
        if (reason) return { ok: "fallback", reason, attempts: calls, apiMs };
      }
      if (err instanceof RequestTooLargeError) {
        // No budget can ever hold it: waiting would block its conversation forever.
        const error = new LlmErrorClass("bad_request", err.message, { cause: err });
        return { ok: false, error, attempts: calls, apiMs };
      }
      if (lease.aborted) throw new LeftForRedelivery();
      throw err;
    }
    bounded?.done();
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
      observeBudget(deps, key, answer.headers);
      // The API charges TPM at arrival with prompt + answer budget and gives nothing back for a short answer,
      // so only the prompt estimate is corrected; refunding unused completion tokens would overspend.
      permit.reconcile(answer.usage.prompt_tokens + weight.outputBudget);
      return { ok: true, answer, attempts: calls, apiMs };
    } catch (err) {
      const error = classifyError(err);
      const ms = deps.now() - started;
      apiMs += ms;
      const statusClass = statusClassOf(error.status ?? error.code);
      if (error.headers) observeBudget(deps, key, error.headers);
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
        deps.limiter.holdBack(key, error.retryAfterMs ?? 1000);
      }
      const leaveFor = fallbackReason(
        error.code === "rate_limited"
          ? { kind: "rate_limited", retryAfterMs: error.retryAfterMs, waitBudgetMs: target.waitBudgetMs }
          : { kind: "error", code: error.code },
        target.isLast,
      );
      if (leaveFor) {
        // Not this request's failure: another deployment can answer it, uncharged against its retries.
        deps.events.emit("attempt", { model, outcome: "requeued", statusClass, seconds: ms / 1000 });
        return { ok: "fallback", reason: leaveFor, attempts: calls, apiMs };
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

/**
 * The lease's signal, aborted also after `ms`: one timer, cleared as soon as the wait ends (AbortSignal.timeout
 * plus AbortSignal.any would leave a timer and a composite signal behind per request until they fire or are
 * collected, on the hot path of every routed call).
 */
function boundedWait(
  lease: AbortSignal,
  ms: number,
): { signal: AbortSignal; timedOut(): boolean; done(): void } {
  const c = new AbortController();
  let timedOut = false;
  const onLease = () => c.abort(lease.reason);
  if (lease.aborted) c.abort(lease.reason);
  else lease.addEventListener("abort", onLease, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    c.abort(new Error(`no budget within ${ms} ms`));
  }, ms);
  return {
    signal: c.signal,
    timedOut: () => timedOut,
    done() {
      clearTimeout(timer);
      lease.removeEventListener("abort", onLease);
    },
  };
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
