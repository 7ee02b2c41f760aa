// The bounded label values chatq uses. Labels multiply series, so every label takes its value
// from a short fixed list (or a configured model/topic name), never from request data.

import { API_ERROR_CODES } from "@chatq/contracts";

/**
 * Why a request ended in a final error (chatq_requests_failed_total{error_class}, chatq_retries_total{reason}):
 * the reply's error.code, as the contract defines it.
 */
export const ERROR_CLASSES = API_ERROR_CODES;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** Why consumption is paused (chatq_consumption_paused{reason}). */
export const PAUSE_REASONS = ["backpressure", "ratelimit", "auth", "api_outage", "shutdown"] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

/**
 * chatq_openai_attempts_total{outcome}: success; retry (failed, retried, charged to the request); fail (failed,
 * final); requeued (failed for the account's or the whole API's reason: back behind the gate, not charged).
 */
export const ATTEMPT_OUTCOMES = ["success", "retry", "fail", "requeued"] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** chatq_tokens_total{kind}. */
export const TOKEN_KINDS = ["prompt", "completion"] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** {kind} of the per-minute limit gauges: requests = RPM, tokens = TPM. */
export const LIMIT_KINDS = ["requests", "tokens"] as const;
export type LimitKind = (typeof LIMIT_KINDS)[number];

/** chatq_openai_request_duration_seconds{status_class}. */
export const STATUS_CLASSES = ["2xx", "4xx", "429", "5xx", "timeout", "connection", "other"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** chatq_circuit_transitions_total{state}. */
export const CIRCUIT_STATES = ["closed", "open", "half_open"] as const;
export type CircuitStateLabel = (typeof CIRCUIT_STATES)[number];
