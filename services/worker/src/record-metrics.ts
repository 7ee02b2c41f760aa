import { BUILTIN_ENTITIES, languageLabel } from "@chatq/guardrails";
import type { ChatqMetrics } from "@chatq/telemetry";
import type { WorkerEvents } from "./worker-events.ts";

const BUILTIN: ReadonlySet<string> = new Set(BUILTIN_ENTITIES);

/**
 * The only place worker events become Prometheus series. Domain code emits what happened; this decides what
 * is counted, so every dead letter and every republish is counted on every path.
 */
export function recordMetrics(
  events: WorkerEvents,
  m: ChatqMetrics,
  opts: { metricTenants?: ReadonlySet<string> } = {},
): void {
  events.on("consumed", ({ topic }) => m.requestsConsumed.inc({ topic }));
  events.on("rejected", ({ reason }) => m.requestsRejected.inc({ reason }));
  events.on("dead_lettered", ({ reason }) => m.deadLetters.inc({ reason }));
  events.on("undecodable_batch", ({ topic, offsets }) => {
    m.undecodableBatches.inc({ topic });
    m.undecodableOffsets.inc({ topic }, offsets);
  });
  events.on("republished", () => m.repliesRepublished.inc());
  events.on("finished", (e) => {
    const { model, reply } = e;
    if (reply.status === "completed") m.requestsCompleted.inc({ model });
    else m.requestsFailed.inc({ model, error_class: reply.error?.code ?? "unknown" });
    if (reply.usage) {
      m.tokens.inc({ model, kind: "prompt" }, reply.usage.prompt_tokens);
      m.tokens.inc({ model, kind: "completion" }, reply.usage.completion_tokens);
      m.tokensEstimated.inc({ model }, e.estimatedPromptTokens);
      m.promptTokenEstimateError.observe({ model }, e.estimatedPromptTokens - reply.usage.prompt_tokens);
    }
    if (reply.history !== undefined) m.contextHistory.inc({ history: reply.history });
    if (reply.sources !== undefined) m.retrievalChunks.inc(reply.sources.length);
    if (reply.cost_usd !== undefined) m.costUsd.inc({ model }, reply.cost_usd);
    if (reply.route !== undefined) {
      const variant = reply.variant ?? "";
      m.routeRequests.inc({ route: reply.route, variant, status: reply.status });
      if (reply.cost_usd !== undefined) m.routeCostUsd.inc({ route: reply.route, variant }, reply.cost_usd);
    }
    const e2eMs = Math.max(0, Date.now() - e.originMs);
    m.endToEndLatency.observe({ priority: e.priority }, e2eMs / 1000);
    m.addedLatency.observe({ priority: e.priority }, Math.max(0, e2eMs - e.apiMs) / 1000);
  });
  events.on("summary", ({ outcome }) => m.summaries.inc({ outcome }));
  events.on("attempt", ({ model, outcome, statusClass, seconds }) => {
    m.openaiAttempts.inc({ model, outcome });
    m.openaiRequestDuration.observe({ model, status_class: statusClass }, seconds);
  });
  events.on("retry_scheduled", ({ reason }) => m.retries.inc({ reason }));
  events.on("rate_limited", ({ model }) => m.openaiRateLimited.inc({ model }));
  events.on("budget_observed", ({ model, observation: o }) => {
    if (o.remainingRequests !== undefined)
      m.openaiRatelimitRemaining.set({ model, kind: "requests" }, o.remainingRequests);
    if (o.remainingTokens !== undefined)
      m.openaiRatelimitRemaining.set({ model, kind: "tokens" }, o.remainingTokens);
    if (o.limitRequests !== undefined)
      m.openaiRatelimitLimit.set({ model, kind: "requests" }, o.limitRequests);
    if (o.limitTokens !== undefined) m.openaiRatelimitLimit.set({ model, kind: "tokens" }, o.limitTokens);
  });
  events.on("budget_waited", ({ model, priority, seconds }) =>
    m.ratelimitWait.observe({ model, priority }, seconds),
  );
  events.on("store_error", ({ operation }) => m.postgresErrors.inc({ operation }));
  events.on("kafka_error", ({ operation }) => m.kafkaErrors.inc({ operation }));
  events.on("pause_changed", ({ reason, paused }) => m.consumptionPaused.set({ reason }, paused ? 1 : 0));
  events.on("circuit_changed", ({ circuit, state }) => {
    m.circuitOpen.set({ circuit }, state === "closed" ? 0 : 1);
    m.circuitTransitions.inc({ circuit, state });
  });
  events.on("in_flight", ({ count }) => m.inFlight.set(count));
  events.on("routed", ({ route, fallbacks }) => {
    for (const f of fallbacks) m.routeFallbacks.inc({ route, from: f.from, reason: f.reason });
  });
  events.on("routes_reloaded", ({ ok }) => m.routeReloads.inc({ result: ok ? "applied" : "refused" }));
  events.on("deprecated_model", ({ model, state }) => m.deprecatedModelRequests.inc({ model, state }));
  events.on("guardrails", ({ verdicts, language }) => {
    m.requestLanguages.inc({ language: languageLabel(language) });
    for (const v of verdicts) {
      m.guardrailVerdicts.inc({ step: v.step, on: v.on, verdict: v.verdict });
      for (const [entity, n] of Object.entries(v.entities ?? {}))
        m.piiRedactions.inc({ entity: BUILTIN.has(entity) ? entity : "custom" }, n);
    }
  });
  events.on("budget_checked", ({ tenant, decision }) => {
    const label = opts.metricTenants?.has(tenant) ? tenant : "other";
    const kind = decision.kind === "admit" && decision.soft !== undefined ? "soft" : decision.kind;
    m.tenantBudgetDecisions.inc({ tenant: label, decision: kind });
  });
}
