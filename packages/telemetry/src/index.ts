export type { Registry } from "prom-client";
export type { StatusClass } from "./label-values.ts";
export {
  ATTEMPT_OUTCOMES,
  type AttemptOutcome,
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
  METRIC_NAMES,
  POSTGRES_OPERATIONS,
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
