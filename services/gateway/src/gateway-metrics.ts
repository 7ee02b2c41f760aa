import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Routes as metric labels: a fixed set, so a scanner's random paths cannot grow the series. */
export const ROUTES = [
  "/v1/chat/completions",
  "/v1/requests",
  "/v1/requests/{id}",
  "/v1/models",
  "/",
  "/openapi.json",
  "/metrics",
  "/healthz",
  "/readyz",
  "other",
] as const;
export type Route = (typeof ROUTES)[number];

export const GATEWAY_METRIC_NAMES = {
  requests: "chatq_gateway_http_requests_total",
  duration: "chatq_gateway_http_request_duration_seconds",
  waiting: "chatq_gateway_replies_waiting",
  refusals: "chatq_gateway_admission_refusals_total",
} as const;

export function createGatewayMetrics() {
  const registry = new Registry();
  const requests = new Counter({
    name: GATEWAY_METRIC_NAMES.requests,
    help: "HTTP requests answered, by route, method and status code",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: GATEWAY_METRIC_NAMES.duration,
    help: "Time from request to the end of the response, by route (chat completions include the worker's time)",
    labelNames: ["route"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const waiting = new Gauge({
    name: GATEWAY_METRIC_NAMES.waiting,
    help: "HTTP calls waiting for their reply from the workers",
    registers: [registry],
  });
  const refusals = new Counter({
    name: GATEWAY_METRIC_NAMES.refusals,
    help: "Requests refused before reaching Kafka, by error code",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  return { registry, requests, duration, waiting, refusals };
}
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
