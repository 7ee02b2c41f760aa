import { Counter, Gauge, type Registry } from "prom-client";

/** The Batch API path's series (the worker registers them only when some batch_mode is on). */
export const BATCH_METRIC_NAMES = {
  batches: "chatq_batches",
  requestsWaiting: "chatq_batch_requests_waiting",
  oldestAge: "chatq_batch_oldest_age_seconds",
  requests: "chatq_batch_requests_total",
} as const;

export const BATCH_REQUEST_OUTCOMES = [
  "handed_over",
  "answered",
  "failed",
  "resubmitted",
  "deadline_exceeded",
] as const;
export type BatchRequestOutcome = (typeof BATCH_REQUEST_OUTCOMES)[number];

export function createBatchMetrics(registry: Registry) {
  const registers = [registry];
  return {
    batches: new Gauge({
      name: BATCH_METRIC_NAMES.batches,
      help: "Batch API batches recorded in Postgres, by state (collected, validating, in_progress, …, done).",
      labelNames: ["state"] as const,
      registers,
    }),
    requestsWaiting: new Gauge({
      name: BATCH_METRIC_NAMES.requestsWaiting,
      help: "Requests handed to a batch and not answered yet.",
      registers,
    }),
    oldestAge: new Gauge({
      name: BATCH_METRIC_NAMES.oldestAge,
      help: "Age of the oldest batch not done (0 when none).",
      registers,
    }),
    requests: new Counter({
      name: BATCH_METRIC_NAMES.requests,
      help: "Requests through the Batch API by what happened to them.",
      labelNames: ["outcome"] as const,
      registers,
    }),
  };
}

export type BatchMetrics = ReturnType<typeof createBatchMetrics>;
