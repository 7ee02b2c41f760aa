import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "./metrics.ts";
import type { CheckResult } from "./readiness.ts";
import { startTelemetryServer, type TelemetryServer } from "./telemetry-server.ts";

let server: TelemetryServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(
  readiness: Record<string, () => CheckResult | Promise<CheckResult>>,
  checkTimeoutMs = 2_000,
) {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.requestsCompleted.inc({ model: "gpt-4o-mini" });
  server = await startTelemetryServer({
    port: 0,
    host: "127.0.0.1",
    registry: metrics.registry,
    readiness,
    checkTimeoutMs,
  });
  const base = `http://127.0.0.1:${server.port}`;
  return (path: string, init?: RequestInit) => fetch(base + path, init);
}

const ok = () => ({ ok: true });

describe("startTelemetryServer", () => {
  it("serves the registry at /metrics in the Prometheus text format", async () => {
    const get = await start({});
    const res = await get("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    expect(await res.text()).toContain('chatq_requests_completed_total{model="gpt-4o-mini"} 1');
  });

  it("answers /healthz while the process lives, even when dependencies are down", async () => {
    const get = await start({ kafka: () => ({ ok: false, detail: "broker down" }) });
    const res = await get("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("is ready when every check passes", async () => {
    const get = await start({ kafka: ok, postgres: async () => ({ ok: true, detail: "1 ms" }), auth: ok });
    const res = await get("/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "ready",
      checks: { kafka: { ok: true }, postgres: { ok: true, detail: "1 ms" }, auth: { ok: true } },
    });
  });

  it("answers 503 naming the failing check and why", async () => {
    const get = await start({
      kafka: ok,
      postgres: () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      },
      auth: async () => ({ ok: false, detail: "OpenAI answered 401: paused" }),
    });
    const res = await get("/readyz");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: "not_ready",
      checks: {
        kafka: { ok: true },
        postgres: { ok: false, detail: "connect ECONNREFUSED 127.0.0.1:5432" },
        auth: { ok: false, detail: "OpenAI answered 401: paused" },
      },
    });
  });

  it("reports a check that never answers as a timeout instead of hanging the probe", async () => {
    const get = await start({ kafka: ok, postgres: () => new Promise<CheckResult>(() => {}) }, 50);
    const res = await get("/readyz");
    expect(res.status).toBe(503);
    expect(((await res.json()) as { checks: Record<string, unknown> }).checks.postgres).toEqual({
      ok: false,
      detail: "timeout",
    });
  });

  it("answers 404 for other paths and 405 for other methods", async () => {
    const get = await start({});
    expect((await get("/")).status).toBe(404);
    expect((await get("/metrics", { method: "POST" })).status).toBe(405);
  });

  it("closes promptly even with a kept-alive scrape connection", async () => {
    const get = await start({});
    await (await get("/metrics")).text();
    await server?.close();
    server = undefined;
    await expect(get("/healthz")).rejects.toThrow();
  });
});
