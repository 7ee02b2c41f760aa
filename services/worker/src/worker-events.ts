import type { ChatReply, DeadLetterCode, Priority } from "@chatq/contracts";
import type { Verdict } from "@chatq/guardrails";
import type { LlmErrorCode } from "@chatq/llm";
import type { RateLimitObservation } from "@chatq/ratelimit";
import type { FallbackReason } from "@chatq/routing";
import type { AttemptOutcome, PauseReason, StatusClass } from "@chatq/telemetry";
import type { CircuitState } from "./circuit-breaker.ts";
import type { BudgetDecision } from "./tenant-budget.ts";

/**
 * What happens in the worker, as typed events. The parts say what happened; record-metrics.ts turns events into
 * Prometheus series in one place, so no path can forget a counter (as kafkajs does with its instrumentation
 * events). Every event that ends a message's life is emitted where that effect is actually written.
 */
export interface WorkerEventMap {
  /** A message taken off a topic, before validation. */
  consumed: { topic: string };
  /** A message refused before any API call (it also goes to the DLQ: see dead_lettered). */
  rejected: { reason: DeadLetterCode };
  /** A record batch the Kafka client could not decode, skipped (its range goes to the DLQ as one record). */
  undecodable_batch: { topic: string; offsets: number };
  /** A record written to the dead-letter topic. */
  dead_lettered: { reason: DeadLetterCode };
  /** A stored reply published again (a redelivery or a duplicate), without an API call. */
  republished: Record<string, never>;
  /** A request answered (completed or failed) and its reply stored and published. */
  finished: {
    model: string;
    priority: Priority;
    reply: ChatReply;
    /** ms spent inside API calls. */
    apiMs: number;
    /** Epoch ms the request came into being, for end-to-end latency. */
    originMs: number;
    estimatedPromptTokens: number;
  };
  /** A background conversation summary finished. */
  summary: { outcome: "stored" | "failed" };
  /** One API call ended. requeued: the account's or the service's fault, not charged to the request. */
  attempt: { model: string; outcome: AttemptOutcome; statusClass: StatusClass; seconds: number };
  retry_scheduled: { reason: LlmErrorCode };
  rate_limited: { model: string };
  budget_observed: { model: string; observation: RateLimitObservation };
  budget_waited: { model: string; priority: Priority; seconds: number };
  store_error: { operation: "read" | "write" | "background" };
  kafka_error: { operation: "produce" | "commit" | "consume" | "lag" };
  pause_changed: { reason: PauseReason; paused: boolean; reasons: readonly PauseReason[] };
  /** circuit: "account" for the key/quota gate, else the model whose API circuit changed. */
  circuit_changed: { circuit: string; state: CircuitState; reason?: string; nextTryInMs?: number };
  assignment_changed: { partitions: readonly number[]; lost: readonly number[]; handedOver: number };
  in_flight: { count: number };
  /** A request for a route answered (or finally failed) at `deployment`, after leaving `fallbacks` in order. */
  routed: {
    route: string;
    variant: string;
    deployment: string;
    fallbacks: readonly { from: string; reason: FallbackReason }[];
  };
  /** A request named a model within 30 days of retirement, or a retired one (routed to its replacement). */
  deprecated_model: { model: string; state: "retiring" | "retired"; replacement: string };
  /** A tenant's budget was checked at admission. Metrics never carry the tenant unless allow-listed. */
  budget_checked: { tenant: string; decision: BudgetDecision };
  /** A request's guardrail verdicts, once per request (input and output together). */
  guardrails: { verdicts: readonly Verdict[]; language: string | undefined };
  /** The route file was read again: applied, or refused with the old table still serving. */
  routes_reloaded: { ok: boolean; version?: string | undefined; problems?: readonly string[] };
}

export type WorkerEventName = keyof WorkerEventMap;
type Listener<K extends WorkerEventName> = (payload: WorkerEventMap[K]) => void;

export class WorkerEvents {
  readonly #listeners = new Map<WorkerEventName, Set<Listener<never>>>();
  readonly #onListenerError: (err: unknown, event: WorkerEventName) => void;

  constructor(onListenerError: (err: unknown, event: WorkerEventName) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  /** Returns the unsubscribe function. */
  on<K extends WorkerEventName>(event: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /** Listeners run synchronously; one that throws never breaks the part that emitted. */
  emit<K extends WorkerEventName>(event: K, payload: WorkerEventMap[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<K>)(payload);
      } catch (err) {
        this.#onListenerError(err, event);
      }
    }
  }
}
