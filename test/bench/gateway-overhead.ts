// `pnpm bench gateway`: what the HTTP gateway adds over the Kafka path. One worker, the fake API answering at once
// (so the API time is ~0), then at each concurrency: (1) producers straight to Kafka, awaiting their reply on a
// reply topic (the worker path), (2) autocannon against POST /v1/chat/completions (the same path behind the
// gateway), (3) the gateway's own time per call, from its access log: total minus the time on Kafka and the
// worker (`ms - wait_ms`). Prints figures; asserts nothing.
//   node test/bench/gateway-overhead.ts [--duration 10] [--clients 100,500]
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type ChatReply, ChatReplySchema, type ChatRequest } from "@chatq/contracts";
import { createBatchConsumer, createKafka, createRecordProducer, ensureTopics } from "@chatq/kafka";
import autocannon from "autocannon";
import { scenarioDb } from "../harness/database.ts";
import { startFakeProcess } from "../harness/fake-process.ts";
import { scenarioTenants, spawnGateway, workerEnvForGateways } from "../harness/gateway-process.ts";
import { createTopics, testKafka } from "../harness/kafka-io.ts";
import { scenarioFor } from "../harness/names.ts";
import { freePort, spawnWorker } from "../harness/worker-process.ts";

const { values } = parseArgs({
  options: { duration: { type: "string", default: "10" }, clients: { type: "string", default: "100,500" } },
});
const durationS = Number(values.duration);
const clientCounts = (values.clients ?? "").split(",").map(Number);
const services = {
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/chatq_test",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  source: { kafka: "env", postgres: "env", redis: "env" },
};
const s = scenarioFor("bench_gateway", services);
console.log(
  `# gateway: one worker, one gateway, fake API at 0 ms, ${durationS} s per run, clients ${clientCounts.join(", ")}`,
);

const fake = await startFakeProcess({ latencyMs: 0, jitterMs: 0, rpm: 0, tpm: 0, sliceMs: 1000 });
const kafka = testKafka(s);
await createTopics(kafka, s);
const worker = spawnWorker(s, fake.url, {
  ...workerEnvForGateways(s),
  OPENAI_RPM: "0",
  OPENAI_TPM: "0",
  WORKER_MAX_IN_FLIGHT: "2000",
  METRICS_PORT: String(await freePort()),
  LOG_LEVEL: "warn",
});
await worker.metricsUrl;
const gateway = spawnGateway(s, { LOG_LEVEL: "info" });
const url = await gateway.url;
const tenants = scenarioTenants(s);
await tenants.createTenant({ tenantId: "bench" });
const { key } = await tenants.createKey("bench");
const body = JSON.stringify({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "How far is Porto?" }],
  max_tokens: 20,
});

const direct = await directPath();
const rows = [];
// A short unreported warm-up of both paths (JIT, connections, Postgres caches).
await direct.run(50, 2);
await autocannon({
  url: `${url}/v1/chat/completions`,
  connections: 50,
  duration: 2,
  method: "POST",
  headers: headers(),
  body,
});
for (const clients of clientCounts) {
  const viaKafka = await direct.run(clients, durationS);
  const logFrom = gateway.logs.length;
  const cpuBefore = cpuSeconds(gateway.proc.pid);
  const viaGateway = await autocannon({
    url: `${url}/v1/chat/completions`,
    connections: clients,
    duration: durationS,
    method: "POST",
    headers: headers(),
    body,
    timeout: 60,
  });
  const gatewayCores = (cpuSeconds(gateway.proc.pid) - cpuBefore) / durationS;
  const own = gateway.logs
    .slice(logFrom)
    .filter((l) => l.msg === "http request" && l.status === 200 && typeof l.wait_ms === "number")
    .map((l) => Number(l.ms) - Number(l.wait_ms))
    .sort((a, b) => a - b);
  const row = {
    clients,
    kafka: { p50: viaKafka.p50, p99: viaKafka.p99, rps: viaKafka.rps },
    gateway: {
      p50: viaGateway.latency.p50,
      p99: viaGateway.latency.p99,
      rps: viaGateway.requests.average,
      non2xx: viaGateway.non2xx,
      errors: viaGateway.errors,
    },
    overhead: { p50: viaGateway.latency.p50 - viaKafka.p50, p99: viaGateway.latency.p99 - viaKafka.p99 },
    own: { p50: pct(own, 0.5), p99: pct(own, 0.99), calls: own.length },
    gatewayCores,
    rpsPerCore: gatewayCores > 0 ? viaGateway.requests.average / gatewayCores : 0,
  };
  rows.push(row);
  console.log(
    `${String(clients).padStart(4)} clients  Kafka path p50 ${f(row.kafka.p50)} p99 ${f(row.kafka.p99)} ms ${row.kafka.rps.toFixed(0)}/s | ` +
      `via gateway p50 ${f(row.gateway.p50)} p99 ${f(row.gateway.p99)} ms ${row.gateway.rps.toFixed(0)}/s (${row.gateway.non2xx} non-2xx, ${row.gateway.errors} errors) | ` +
      `added p50 ${f(row.overhead.p50)} p99 ${f(row.overhead.p99)} ms | gateway's own p50 ${f(row.own.p50)} p99 ${f(row.own.p99)} ms | ` +
      `${row.gatewayCores.toFixed(2)} cores, ${row.rpsPerCore.toFixed(0)} req/s per core`,
  );
}
console.log(`\nJSON ${JSON.stringify({ bench: "gateway", durationS, rows })}`);
await direct.close();
await gateway.stop();
await worker.stop();
await tenants.close();
fake.process.kill("SIGTERM");
await scenarioDb(s).drop();
process.exit(0);

function headers(): Record<string, string> {
  return { authorization: `Bearer ${key}`, "content-type": "application/json" };
}

/** Closed-loop producers straight to Kafka, each awaiting its reply on a reply topic of the bench's own. */
async function directPath() {
  const client = createKafka({ brokers: services.kafkaBrokers, clientId: `${s.id}-direct` });
  const replyTopic = `${s.topics.replies}.gateway.bench-direct`;
  await ensureTopics(client, [{ name: replyTopic, partitions: 1 }]);
  const producer = await createRecordProducer(client);
  const waiting = new Map<string, (r: ChatReply) => void>();
  const consumer = createBatchConsumer(client, { groupId: `${s.id}-direct`, topic: replyTopic });
  await consumer.start((records) => {
    for (const r of records) {
      const reply = ChatReplySchema.parse(JSON.parse(String(r.value)));
      waiting.get(reply.request_id)?.(reply);
      waiting.delete(reply.request_id);
    }
  });
  await consumer.joined();
  const one = async () => {
    const request: ChatRequest = {
      request_id: `direct/${randomUUID()}`,
      tenant: "bench",
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "How far is Porto?" }],
      params: { max_tokens: 20 },
      priority: "interactive",
      reply_topic: replyTopic,
    };
    const reply = new Promise<ChatReply>((r) => waiting.set(request.request_id, r));
    await producer.send([
      { topic: s.topics.requests, key: request.request_id, value: JSON.stringify(request) },
    ]);
    await reply;
  };
  return {
    async run(clients: number, seconds: number) {
      const latencies: number[] = [];
      const end = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (performance.now() < end) {
            const t = performance.now();
            await one();
            latencies.push(performance.now() - t);
          }
        }),
      );
      latencies.sort((a, b) => a - b);
      return { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), rps: latencies.length / seconds };
    },
    async close() {
      await consumer.disconnect();
      await producer.disconnect();
      const admin = client.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [replyTopic] });
      await admin.disconnect();
    },
  };
}

function pct(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function f(ms: number): string {
  return ms.toFixed(ms < 10 ? 2 : 1);
}

/** User + system CPU seconds of a process so far (Linux /proc; clock ticks of 1/100 s). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
