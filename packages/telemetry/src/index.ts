export type { Registry } from "prom-client";
export {
  BATCH_METRIC_NAMES,
  BATCH_REQUEST_OUTCOMES,
  type BatchMetrics,
  type BatchRequestOutcome,
  createBatchMetrics,
} from "./batch-metrics.ts";
export type { StatusClass } from "./label-values.ts";
export {
  ATTEMPT_OUTCOMES,
  type AttemptOutcome,
  CIRCUIT_STATES,
  type CircuitStateLabel,
  ERROR_CLASSES,
  type ErrorClass,
  LIMIT_KINDS,
  type LimitKind,
  PAUSE_REASONS,
  type PauseReason,
  STATUS_CLASSES,
  TOKEN_KINDS,
  type TokenKind,
} from "./label-values.ts";
export { type CreateLoggerOptions, createLogger, type Logger, REDACTED } from "./logger.ts";
export {
  type ChatqMetrics,
  type CreateMetricsOptions,
  createMetrics,
  KAFKA_OPERATIONS,
  type KafkaOperation,
  METRIC_NAMES,
  POSTGRES_OPERATIONS,
  type PostgresOperation,
  primeSeries,
} from "./metrics.ts";
export type { CheckResult, ReadinessCheck, ReadinessReport } from "./readiness.ts";
export { evaluateReadiness } from "./readiness.ts";
export { statusClassOf } from "./status-class.ts";
export {
  startTelemetryServer,
  type TelemetryServer,
  type TelemetryServerOptions,
} from "./telemetry-server.ts";
