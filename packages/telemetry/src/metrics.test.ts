import { describe, expect, it } from "vitest";
import { ERROR_CLASSES, PAUSE_REASONS } from "./label-values.ts";
import { createMetrics, METRIC_NAMES, primeSeries } from "./metrics.ts";

// One sample line of the Prometheus text format: name, optional {labels}, a number
// (Prometheus parses floats with Go's ParseFloat, so "Nan" and "+Inf" in any case are valid).
const SAMPLE_LINE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+-]+|nan|[+-]?inf)$/i;

function typesIn(exposition: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const line of exposition.split("\n")) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m?.[1] && m[2]) types.set(m[1], m[2]);
  }
  return types;
}

describe("createMetrics", () => {
  it("registers every chatq metric, with help and the right type", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const text = await metrics.registry.metrics();
    const types = typesIn(text);
    for (const name of Object.values(METRIC_NAMES)) {
      const expected = name.endsWith("_total")
        ? "counter"
        : name.endsWith("_seconds") || name === METRIC_NAMES.promptTokenEstimateError
          ? "histogram"
          : "gauge";
      expect(types.get(name), name).toBe(expected);
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S.{10,}$`, "m"));
    }
    expect([...types.keys()].filter((n) => n.startsWith("chatq_")).sort()).toEqual(
      Object.values(METRIC_NAMES).sort(),
    );
  });

  it("exposes valid text exposition once series exist, including default process metrics", async () => {
    const m = createMetrics({ version: "1.2.3" });
    primeSeries(m, { models: ["gpt-4o-mini"], topics: ["chat.requests"] });
    m.requestsRejected.inc({ reason: 'has "quotes" and \\ backslash' });
    m.openaiRequestDuration.observe({ model: "gpt-4o-mini", status_class: "2xx" }, 0.4);
    m.endToEndLatency.observe({ priority: "high" }, 1.5);
    m.addedLatency.observe({ priority: "high" }, 0.01);
    m.ratelimitWait.observe({ model: "gpt-4o-mini", priority: "low" }, 2);
    m.consumerLag.set({ topic: "chat.requests", partition: "0" }, 12);
    m.ratelimitLimit.set({ model: "gpt-4o-mini", kind: "tokens" }, 200_000);

    const text = await m.registry.metrics();
    const samples = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(samples.filter((l) => !SAMPLE_LINE.test(l))).toEqual([]);
    expect(text).toContain(`chatq_build_info{version="1.2.3",node_version="${process.version}"} 1`);
    expect(text).toContain('chatq_requests_completed_total{model="gpt-4o-mini"} 0');
    expect(text).toContain(
      'chatq_openai_request_duration_seconds_bucket{le="0.5",model="gpt-4o-mini",status_class="2xx"} 1',
    );
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
  });

  it("primes a zero series per error class and model so ratios and rate() work from the first event", async () => {
    const m = createMetrics({ defaultMetrics: false });
    primeSeries(m, { models: ["a", "b"] });
    const failed = await m.requestsFailed.get();
    expect(failed.values).toHaveLength(2 * ERROR_CLASSES.length);
    expect(failed.values.every((v) => v.value === 0)).toBe(true);
  });

  it("reports every pause reason as 0 until a pause is set", async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.consumptionPaused.set({ reason: "auth" }, 1);
    const paused = await m.consumptionPaused.get();
    expect(Object.fromEntries(paused.values.map((v) => [v.labels.reason, v.value]))).toEqual({
      ...Object.fromEntries(PAUSE_REASONS.map((r) => [r, 0])),
      auth: 1,
    });
  });

  it("gives each call its own registry, so two workers in one test process do not collide", () => {
    const a = createMetrics();
    const b = createMetrics();
    expect(a.registry).not.toBe(b.registry);
  });
});
