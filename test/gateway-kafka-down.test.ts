import { migrate } from "@chatq/store";
import type { TenantStore } from "@chatq/tenants";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { type GatewayProcess, scenarioTenants, spawnGateway } from "./harness/gateway-process.ts";
import { createTopics } from "./harness/kafka-io.ts";
import { type PrivateKafka, startPrivateKafka } from "./harness/private-kafka.ts";
import { type Scenario, uniqueScenario } from "./harness/scenario.ts";
import { metricValue } from "./harness/worker-process.ts";

// What an SRE sees when Kafka goes away under the gateway: 503s in OpenAI's shape with retry-after, /readyz
// naming Kafka, and both back once the broker is.

let s: Scenario;
let broker: PrivateKafka;
let gateway: GatewayProcess;
let tenants: TenantStore;
let url: string;
let key: string;

beforeAll(async () => {
  broker = await startPrivateKafka();
  const base = uniqueScenario("gateway_kafka_down");
  s = { ...base, services: { ...base.services, kafkaBrokers: broker.brokers } };
  await createTopics(new Kafka({ brokers: broker.brokers, clientId: "t", logLevel: logLevel.NOTHING }), s);
  await migrate({ databaseUrl: s.services.databaseUrl, schema: s.schema });
  tenants = scenarioTenants(s);
  await tenants.createTenant({ tenantId: "acme" });
  key = (await tenants.createKey("acme")).key;
  gateway = spawnGateway(s, { GATEWAY_PUBLISH_TIMEOUT_MS: "2000" });
  url = await gateway.url;
});

afterAll(async () => {
  await gateway?.stop("SIGKILL");
  await tenants?.close();
  await broker?.close();
  await scenarioDb(s).drop();
});

async function readiness(): Promise<{ status: number; body: { checks: { kafka: { ok: boolean } } } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: { kafka: { ok: boolean } } } };
}

it("with Kafka down, calls get 503 kafka_unavailable with retry-after and /readyz says kafka; both recover", async () => {
  expect((await readiness()).status).toBe(200);
  await broker.stop("term");
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "anyone there?" }] }),
  });
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("1");
  expect(await res.json()).toMatchObject({ error: { code: "kafka_unavailable", type: "api_error" } });
  const down = await readiness();
  expect(down.status).toBe(503);
  expect(down.body.checks.kafka.ok).toBe(false);
  expect(
    await metricValue(url, "chatq_gateway_http_requests_total", { status: "503" }),
  ).toBeGreaterThanOrEqual(1);

  await broker.start();
  for (;;) {
    if ((await readiness()).status === 200) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  expect((await readiness()).body.checks.kafka.ok).toBe(true);
});
