import type { FakeOpenAI } from "@chatq/fake-openai";
import type { TenantStore } from "@chatq/tenants";
import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import {
  type GatewayProcess,
  scenarioTenants,
  spawnGateway,
  workerEnvForGateways,
} from "./harness/gateway-process.ts";
import { createTopics, testKafka } from "./harness/kafka-io.ts";
import { type Scenario, uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { metricValue, spawnWorker, type WorkerProcess } from "./harness/worker-process.ts";

let s: Scenario;
let kafka: Kafka;
let fake: FakeOpenAI;
let workers: WorkerProcess[] = [];
let gateways: GatewayProcess[] = [];
let urls: string[] = [];
let tenants: TenantStore;
let db: ReturnType<typeof scenarioDb>;
let key: string;

// Replicas reap a silent replica's topic after 2 s here (10 min by default).
const GATEWAY_ENV = { GATEWAY_INSTANCE_TTL_MS: "2000" };

beforeAll(async () => {
  s = uniqueScenario("gateway_replicas");
  kafka = testKafka(s);
  fake = await startTestFake({ latencyMs: 200, jitterMs: 50 });
  await createTopics(kafka, s);
  workers = [0, 1].map(() => spawnWorker(s, fake.url, workerEnvForGateways(s)));
  await Promise.all(workers.map((w) => w.metricsUrl));
  gateways = ["gw-a", "gw-b"].map((id) => spawnGateway(s, { ...GATEWAY_ENV, GATEWAY_INSTANCE_ID: id }));
  urls = await Promise.all(gateways.map((g) => g.url));
  tenants = scenarioTenants(s);
  db = scenarioDb(s);
  await tenants.createTenant({ tenantId: "acme" });
  key = (await tenants.createKey("acme")).key;
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all(workers.map((w) => w.stop()));
  await tenants?.close();
  await fake?.close();
  await db?.drop();
});

function ask(gatewayUrl: string, apiKey: string, content: string) {
  return fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }], max_tokens: 20 }),
  });
}

it("500 concurrent calls spread over two gateways and two workers are all answered with their own reply", async () => {
  const calls = Array.from({ length: 500 }, async (_, i) => {
    const res = await ask(urls[i % 2] ?? "", key, `question number ${i}`);
    const body = (await res.json()) as { choices?: { message: { content: string } }[] };
    return { i, status: res.status, content: body.choices?.[0]?.message.content ?? JSON.stringify(body) };
  });
  const results = await Promise.all(calls);
  expect(results.filter((r) => r.status !== 200)).toEqual([]);
  for (const r of results) expect(r.content).toContain(`question number ${r.i}`);
  // Stored once each, and both workers answered part of them.
  const [stored] = await db.query<{ n: string }>(
    "select count(*) as n from replies where request_id like 'acme/%'",
  );
  expect(Number(stored?.n)).toBe(500);
  for (const w of workers) {
    expect(await metricValue(await w.metricsUrl, "chatq_requests_completed_total")).toBeGreaterThan(0);
  }
});

it("a revoked key is refused by every replica within 1 s", async () => {
  const { key: doomed, info } = await tenants.createKey("acme");
  // Warm both replicas' caches with the key still valid.
  for (const u of urls) expect((await ask(u, doomed, "still fine")).status).toBe(200);
  const revokedAt = Date.now();
  await tenants.revokeKey("acme", info.keyId);
  // The guarantee is a deadline, not a measurement: any call from 1 s after the revocation on is refused.
  await new Promise((r) => setTimeout(r, Math.max(0, revokedAt + 1000 - Date.now())));
  for (const u of urls) {
    const res = await ask(u, doomed, "after revocation");
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
  }
});

it("replicas leave no reply topic or row behind: removed on a clean stop, reaped after a crash", async () => {
  const topicsNow = async () => {
    const admin = kafka.admin();
    await admin.connect();
    const all = await admin.listTopics();
    await admin.disconnect();
    return all.filter((t) => t.startsWith(`${s.topics.replies}.gateway.`)).sort();
  };
  expect(await topicsNow()).toEqual([`${s.topics.replies}.gateway.gw-a`, `${s.topics.replies}.gateway.gw-b`]);
  const crashed = spawnGateway(s, { ...GATEWAY_ENV, GATEWAY_INSTANCE_ID: "gw-crash" });
  await crashed.url;
  expect(await topicsNow()).toContain(`${s.topics.replies}.gateway.gw-crash`);
  await crashed.stop("SIGKILL");
  const clean = spawnGateway(s, { ...GATEWAY_ENV, GATEWAY_INSTANCE_ID: "gw-clean" });
  await clean.url;
  expect(await clean.stop()).toBe(0);
  // gw-a and gw-b keep heartbeating and reap gw-crash once it has been silent for the TTL.
  for (;;) {
    const topics = await topicsNow();
    if (topics.length === 2) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(await topicsNow()).toEqual([`${s.topics.replies}.gateway.gw-a`, `${s.topics.replies}.gateway.gw-b`]);
  const rows = await db.query<{ instance_id: string }>(
    "select instance_id from gateway_instances order by 1",
  );
  expect(rows.map((r) => r.instance_id)).toEqual(["gw-a", "gw-b"]);
});
