import { DEAD_LETTER_CODES, REJECT_CODES } from "@chatq/contracts";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import {
  ATTEMPT_OUTCOMES,
  CIRCUIT_STATES,
  ERROR_CLASSES,
  PAUSE_REASONS,
  TOKEN_KINDS,
} from "./label-values.ts";

/**
 * Every chatq metric name, spelled once. Dashboards, alerts and the README refer to these;
 * test/observability-files.test.ts fails if they reference a name that is not here.
 */
export const METRIC_NAMES = {
  requestsConsumed: "chatq_requests_consumed_total",
  requestsCompleted: "chatq_requests_completed_total",
  requestsFailed: "chatq_requests_failed_total",
  requestsRejected: "chatq_requests_rejected_total",
  deadLetters: "chatq_dead_letters_total",
  repliesRepublished: "chatq_replies_republished_total",
  undecodableBatches: "chatq_undecodable_batches_total",
  undecodableOffsets: "chatq_undecodable_offsets_total",
  openaiRequestDuration: "chatq_openai_request_duration_seconds",
  endToEndLatency: "chatq_end_to_end_latency_seconds",
  addedLatency: "chatq_added_latency_seconds",
  openaiAttempts: "chatq_openai_attempts_total",
  retries: "chatq_retries_total",
  tokens: "chatq_tokens_total",
  tokensEstimated: "chatq_tokens_estimated_total",
  promptTokenEstimateError: "chatq_prompt_token_estimate_error_tokens",
  contextHistory: "chatq_context_history_total",
  summaries: "chatq_summaries_total",
  retrievalChunks: "chatq_retrieval_chunks_total",
  costUsd: "chatq_cost_usd_total",
  inFlight: "chatq_in_flight",
  inFlightLimit: "chatq_in_flight_limit",
  ratelimitQueueDepth: "chatq_ratelimit_queue_depth",
  ratelimitWait: "chatq_ratelimit_wait_seconds",
  ratelimitLimit: "chatq_ratelimit_limit",
  openaiRatelimitRemaining: "chatq_openai_ratelimit_remaining",
  openaiRatelimitLimit: "chatq_openai_ratelimit_limit",
  openaiRateLimited: "chatq_openai_rate_limited_total",
  consumerLag: "chatq_consumer_lag",
  consumptionPaused: "chatq_consumption_paused",
  postgresErrors: "chatq_postgres_errors_total",
  kafkaErrors: "chatq_kafka_errors_total",
  circuitOpen: "chatq_circuit_open",
  circuitTransitions: "chatq_circuit_transitions_total",
  circuitWaiting: "chatq_circuit_waiting",
  buildInfo: "chatq_build_info",
  routeRequests: "chatq_route_requests_total",
  routeCostUsd: "chatq_route_cost_usd_total",
  routeFallbacks: "chatq_route_fallbacks_total",
  routeReloads: "chatq_route_reloads_total",
  deprecatedModelRequests: "chatq_deprecated_model_requests_total",
  tenantBudgetDecisions: "chatq_tenant_budget_decisions_total",
  guardrailVerdicts: "chatq_guardrail_verdicts_total",
  piiRedactions: "chatq_pii_redactions_total",
  requestLanguages: "chatq_request_languages_total",
} as const;

// Buckets are chosen per distribution so p50..p99 land between bucket bounds, not all in the last one.
/** OpenAI calls: a fast cached answer is ~50 ms, a long completion can take the SDK's 120 s. */
const OPENAI_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120];
/** Created → replied: milliseconds when idle, minutes when a backlog waits for budget. */
const END_TO_END_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
/** What chatq adds on top of the API call: queueing, DB writes, produce. */
const ADDED_LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
/** Waiting for RPM/TPM budget: nothing when under budget, up to a few minute windows when over. */
const RATELIMIT_WAIT_BUCKETS = [
  0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300,
];

export interface CreateMetricsOptions {
  /** Registry to register on; default a fresh one (one per process: the worker builds it once in main). */
  registry?: Registry;
  /** Node/process default metrics (process_*, nodejs_*); default true. */
  defaultMetrics?: boolean;
  /** Value of chatq_build_info{version}; default "unknown". */
  version?: string;
}

export type ChatqMetrics = ReturnType<typeof createMetrics>;

/** Builds and registers every chatq metric on one registry. Call once per process. */
export function createMetrics(opts: CreateMetricsOptions = {}) {
  const registry = opts.registry ?? new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const n = METRIC_NAMES;

  const metrics = {
    registry,
    requestsConsumed: new Counter({
      name: n.requestsConsumed,
      help: "Kafka request messages taken off a topic (before validation).",
      labelNames: ["topic"] as const,
      registers,
    }),
    requestsCompleted: new Counter({
      name: n.requestsCompleted,
      help: "Requests answered with a completion, stored and replied to.",
      labelNames: ["model"] as const,
      registers,
    }),
    requestsFailed: new Counter({
      name: n.requestsFailed,
      help: "Requests that ended in a final error reply after retries; error_class is a bounded error kind.",
      labelNames: ["model", "error_class"] as const,
      registers,
    }),
    requestsRejected: new Counter({
      name: n.requestsRejected,
      help: "Messages refused before any API call because they were invalid (reason: not_json, schema, oversize, ...).",
      labelNames: ["reason"] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: n.deadLetters,
      help: "Messages written to the dead-letter topic, by reason.",
      labelNames: ["reason"] as const,
      registers,
    }),
    undecodableBatches: new Counter({
      name: n.undecodableBatches,
      help: "Record batches the Kafka client could not decode (codec, corrupt bytes, malformed records): dead-lettered and skipped.",
      labelNames: ["topic"] as const,
      registers,
    }),
    undecodableOffsets: new Counter({
      name: n.undecodableOffsets,
      help: "Offsets inside those batches: messages nobody gets a reply for.",
      labelNames: ["topic"] as const,
      registers,
    }),
    repliesRepublished: new Counter({
      name: n.repliesRepublished,
      help: "Redelivered requests answered from the stored reply without a second API call.",
      registers,
    }),
    openaiRequestDuration: new Histogram({
      name: n.openaiRequestDuration,
      help: "Duration of one OpenAI API attempt; status_class: 2xx, 4xx, 429, 5xx, timeout, connection.",
      labelNames: ["model", "status_class"] as const,
      buckets: OPENAI_DURATION_BUCKETS,
      registers,
    }),
    endToEndLatency: new Histogram({
      name: n.endToEndLatency,
      help: "From request creation (created_at, else Kafka timestamp) to reply produced.",
      labelNames: ["priority"] as const,
      buckets: END_TO_END_BUCKETS,
      registers,
    }),
    addedLatency: new Histogram({
      name: n.addedLatency,
      help: "End-to-end latency minus time spent inside OpenAI calls: what chatq itself adds.",
      labelNames: ["priority"] as const,
      buckets: ADDED_LATENCY_BUCKETS,
      registers,
    }),
    openaiAttempts: new Counter({
      name: n.openaiAttempts,
      help: "OpenAI API attempts by outcome: success, retry (failed, will retry), fail (failed, final).",
      labelNames: ["model", "outcome"] as const,
      registers,
    }),
    retries: new Counter({
      name: n.retries,
      help: "Retries scheduled, by reason (the error class that caused them).",
      labelNames: ["reason"] as const,
      registers,
    }),
    tokens: new Counter({
      name: n.tokens,
      help: "Tokens billed by OpenAI as reported in usage, by kind (prompt, completion).",
      labelNames: ["model", "kind"] as const,
      registers,
    }),
    tokensEstimated: new Counter({
      name: n.tokensEstimated,
      help: "Tokens chatq estimated and reserved from the TPM budget before calling OpenAI.",
      labelNames: ["model"] as const,
      registers,
    }),
    promptTokenEstimateError: new Histogram({
      name: n.promptTokenEstimateError,
      help: "chatq's prompt-token count minus the API's usage.prompt_tokens, per answered request (0 = exact).",
      labelNames: ["model"] as const,
      buckets: [-100, -10, -3, -1, 0, 1, 3, 10, 100],
      registers,
    }),
    contextHistory: new Counter({
      name: n.contextHistory,
      help: "Requests by how their conversation's history was sent: full, trimmed, or summarised.",
      labelNames: ["history"] as const,
      registers,
    }),
    summaries: new Counter({
      name: n.summaries,
      help: "Background conversation summaries, by outcome (stored, failed).",
      labelNames: ["outcome"] as const,
      registers,
    }),
    retrievalChunks: new Counter({
      name: n.retrievalChunks,
      help: "Retrieved document chunks inserted into prompts.",
      registers,
    }),
    costUsd: new Counter({
      name: n.costUsd,
      help: "Estimated spend in US dollars, from reported usage and the configured price table.",
      labelNames: ["model"] as const,
      registers,
    }),
    inFlight: new Gauge({
      name: n.inFlight,
      help: "Requests this worker has taken and not yet finished (replied, failed or rejected).",
      registers,
    }),
    inFlightLimit: new Gauge({
      name: n.inFlightLimit,
      help: "Configured maximum of in-flight requests per worker; consumption pauses at this level.",
      registers,
    }),
    ratelimitQueueDepth: new Gauge({
      name: n.ratelimitQueueDepth,
      help: "Requests in this worker waiting for RPM/TPM budget.",
      labelNames: ["model", "priority"] as const,
      registers,
    }),
    ratelimitWait: new Histogram({
      name: n.ratelimitWait,
      help: "Time a request waited for RPM/TPM budget before its API call.",
      labelNames: ["model", "priority"] as const,
      buckets: RATELIMIT_WAIT_BUCKETS,
      registers,
    }),
    ratelimitLimit: new Gauge({
      name: n.ratelimitLimit,
      help: "Configured per-minute budget chatq enforces across all workers (kind: requests = RPM, tokens = TPM).",
      labelNames: ["model", "kind"] as const,
      registers,
    }),
    openaiRatelimitRemaining: new Gauge({
      name: n.openaiRatelimitRemaining,
      help: "Remaining budget reported by OpenAI in x-ratelimit-remaining-{requests,tokens} on the last response.",
      labelNames: ["model", "kind"] as const,
      registers,
    }),
    openaiRatelimitLimit: new Gauge({
      name: n.openaiRatelimitLimit,
      help: "Limit reported by OpenAI in x-ratelimit-limit-{requests,tokens} on the last response.",
      labelNames: ["model", "kind"] as const,
      registers,
    }),
    openaiRateLimited: new Counter({
      name: n.openaiRateLimited,
      help: "HTTP 429 responses received from OpenAI.",
      labelNames: ["model"] as const,
      registers,
    }),
    consumerLag: new Gauge({
      name: n.consumerLag,
      help: "Messages not yet committed by the consumer group: high watermark minus committed offset.",
      labelNames: ["topic", "partition"] as const,
      registers,
    }),
    consumptionPaused: new Gauge({
      name: n.consumptionPaused,
      help: "1 while consumption is paused for this reason (backpressure, ratelimit, auth, shutdown), else 0.",
      labelNames: ["reason"] as const,
      registers,
    }),
    postgresErrors: new Counter({
      name: n.postgresErrors,
      help: "Failed Postgres operations, by operation.",
      labelNames: ["operation"] as const,
      registers,
    }),
    kafkaErrors: new Counter({
      name: n.kafkaErrors,
      help: "Failed Kafka operations (consume, produce, commit, admin), by operation.",
      labelNames: ["operation"] as const,
      registers,
    }),
    circuitOpen: new Gauge({
      name: n.circuitOpen,
      help: "1 while a circuit is open or half-open (circuit: account for the key/quota gate, else the model): calls wait instead of failing.",
      labelNames: ["circuit"] as const,
      registers,
    }),
    circuitTransitions: new Counter({
      name: n.circuitTransitions,
      help: "Circuit state changes (to closed, open or half_open), by circuit.",
      labelNames: ["circuit", "state"] as const,
      registers,
    }),
    circuitWaiting: new Gauge({
      name: n.circuitWaiting,
      help: "Requests waiting behind an open circuit (not charged an attempt; resumed when it closes).",
      labelNames: ["circuit"] as const,
      registers,
    }),
    buildInfo: new Gauge({
      name: n.buildInfo,
      help: "Always 1; labels carry the running chatq version and Node.js version.",
      labelNames: ["version", "node_version"] as const,
      registers,
    }),
    routeRequests: new Counter({
      name: n.routeRequests,
      help: "Requests for a route answered or failed, by route, variant and status (labels from the route file).",
      labelNames: ["route", "variant", "status"] as const,
      registers,
    }),
    routeCostUsd: new Counter({
      name: n.routeCostUsd,
      help: "Spend in US dollars of requests for a route, by route and variant (per tenant: the usage ledger).",
      labelNames: ["route", "variant"] as const,
      registers,
    }),
    routeFallbacks: new Counter({
      name: n.routeFallbacks,
      help: "Requests that left a deployment for the next one of their route's chain, by why.",
      labelNames: ["route", "from", "reason"] as const,
      registers,
    }),
    routeReloads: new Counter({
      name: n.routeReloads,
      help: "Re-reads of the route file: applied, or refused (the previous table keeps serving).",
      labelNames: ["result"] as const,
      registers,
    }),
    deprecatedModelRequests: new Counter({
      name: n.deprecatedModelRequests,
      help: "Requests naming a model within 30 days of retirement (retiring) or past it (retired: sent to its replacement).",
      labelNames: ["model", "state"] as const,
      registers,
    }),
    tenantBudgetDecisions: new Counter({
      name: n.tenantBudgetDecisions,
      help: "Budget checks at admission: admit, soft (over the soft threshold, admitted), reject, hold. tenant: allow-listed in BUDGET_METRIC_TENANTS, else other.",
      labelNames: ["tenant", "decision"] as const,
      registers,
    }),
    guardrailVerdicts: new Counter({
      name: n.guardrailVerdicts,
      help: "Guardrail verdicts: step (pii, moderation, topic, language, injection), on (input, output, retrieved), verdict.",
      labelNames: ["step", "on", "verdict"] as const,
      registers,
    }),
    piiRedactions: new Counter({
      name: n.piiRedactions,
      help: "PII entities redacted before an API call, by built-in entity type (a tenant's own types count as custom).",
      labelNames: ["entity"] as const,
      registers,
    }),
    requestLanguages: new Counter({
      name: n.requestLanguages,
      help: "Requests by the detected language of their newest user turn (a fixed set, other, unknown).",
      labelNames: ["language"] as const,
      registers,
    }),
  };

  // One series: the version is known when the metrics are made (main passes it), never set a second time.
  metrics.buildInfo.set({ version: opts.version ?? "unknown", node_version: process.version }, 1);
  // A 0 series for every pause reason, so "paused == 1" alerts and panels see 0 rather than nothing.
  for (const reason of PAUSE_REASONS) metrics.consumptionPaused.set({ reason }, 0);
  return metrics;
}

/**
 * Creates the zero-valued series for the models and topics a worker serves, at startup.
 * rate() needs two samples: a counter series that first appears already at 1 hides that first
 * event, and a ratio whose denominator series is missing evaluates to nothing instead of firing.
 */
/** The operations the worker counts errors for (bounded label values). */
/** What intake refuses before any API call: the decoder's codes, a database refusal, a bug met by one message. */
const INTAKE_REFUSALS = [...REJECT_CODES, "store_refused", "intake_error"] as const;

export const POSTGRES_OPERATIONS = ["read", "write", "background"] as const;
export const KAFKA_OPERATIONS = ["produce", "commit", "consume", "lag"] as const;
export type PostgresOperation = (typeof POSTGRES_OPERATIONS)[number];
export type KafkaOperation = (typeof KAFKA_OPERATIONS)[number];

export function primeSeries(
  metrics: ChatqMetrics,
  known: { models: readonly string[]; topics?: readonly string[] },
): void {
  for (const topic of known.topics ?? []) {
    metrics.requestsConsumed.inc({ topic }, 0);
    metrics.undecodableBatches.inc({ topic }, 0);
    metrics.undecodableOffsets.inc({ topic }, 0);
  }
  for (const reason of DEAD_LETTER_CODES) {
    metrics.deadLetters.inc({ reason }, 0);
    if ((INTAKE_REFUSALS as readonly string[]).includes(reason)) metrics.requestsRejected.inc({ reason }, 0);
  }
  for (const reason of ERROR_CLASSES) metrics.retries.inc({ reason }, 0);
  for (const operation of POSTGRES_OPERATIONS) metrics.postgresErrors.inc({ operation }, 0);
  for (const operation of KAFKA_OPERATIONS) metrics.kafkaErrors.inc({ operation }, 0);
  for (const model of known.models) {
    metrics.requestsCompleted.inc({ model }, 0);
    for (const error_class of ERROR_CLASSES) metrics.requestsFailed.inc({ model, error_class }, 0);
    for (const outcome of ATTEMPT_OUTCOMES) metrics.openaiAttempts.inc({ model, outcome }, 0);
    for (const kind of TOKEN_KINDS) metrics.tokens.inc({ model, kind }, 0);
    metrics.tokensEstimated.inc({ model }, 0);
    metrics.costUsd.inc({ model }, 0);
    metrics.openaiRateLimited.inc({ model }, 0);
    primeCircuit(metrics, model);
  }
  primeCircuit(metrics, "account");
}

function primeCircuit(metrics: ChatqMetrics, circuit: string): void {
  metrics.circuitOpen.set({ circuit }, 0);
  metrics.circuitWaiting.set({ circuit }, 0);
  for (const state of CIRCUIT_STATES) metrics.circuitTransitions.inc({ circuit, state }, 0);
}
