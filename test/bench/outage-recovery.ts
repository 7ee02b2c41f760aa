// How fast a worker is back at full rate after the API was down, and what the outage cost: real Kafka, Postgres
// and Redis, the fake OpenAI API in its own process, one worker process working through a backlog under a
// binding budget. The API fails every call for --outage seconds (all 5xx, or every key rejected), then recovers.
// Prints figures per second and a summary; asserts nothing.
//   pnpm bench outage            (both scenarios)
//   node test/bench/outage-recovery.ts --scenario 503|401 [--outage 10] [--rpm 1200]
import { parseArgs } from "node:util";
import type { ChatRequest } from "@chatq/contracts";
import { scenarioDb } from "../harness/database.ts";
import { startFakeProcess } from "../harness/fake-process.ts";
import { collect, createTopics, requestPublisher, testKafka } from "../harness/kafka-io.ts";
import { scenarioFor } from "../harness/names.ts";
import { freePort, metricValue, spawnWorker } from "../harness/worker-process.ts";

const { values } = parseArgs({
  options: {
    scenario: { type: "string", default: "503,401" },
    outage: { type: "string", default: "10" },
    rpm: { type: "string", default: "1200" },
    before: { type: "string", default: "15" },
    after: { type: "string", default: "20" },
  },
});
const outageS = Number(values.outage);
const rpm = Number(values.rpm);
const beforeS = Number(values.before);
const afterS = Number(values.after);
const KEY = "sk-chatq-test";

const services = {
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/chatq_test",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  source: { kafka: "env", postgres: "env", redis: "env" },
};

const summaries: Record<string, unknown>[] = [];
for (const scenario of (values.scenario ?? "").split(",")) summaries.push(await run(scenario.trim()));
console.log(`\nJSON ${JSON.stringify(summaries)}`);
process.exit(0);

async function run(scenario: string): Promise<Record<string, unknown>> {
  const outage =
    scenario === "503"
      ? { start: { errorRate: 1 }, end: { errorRate: 0 }, what: "every call answers 500/502/503" }
      : {
          start: { apiKey: "sk-rotated" },
          end: { apiKey: KEY },
          what: "every call answers 401 invalid_api_key",
        };
  const s = scenarioFor(`bench_outage_${scenario}`, services);
  console.log(
    `\n# ${scenario}: ${outage.what} for ${outageS} s; RPM ${rpm} in 1 s slices; one worker, a backlog`,
  );
  const fake = await startFakeProcess({
    apiKey: KEY,
    latencyMs: 100,
    jitterMs: 20,
    rpm,
    tpm: 0,
    sliceMs: 1000,
  });
  const kafka = testKafka(s);
  await createTopics(kafka, s, 12);
  const replies = await collect(kafka, s.topics.replies, s.id);
  const publisher = await requestPublisher(kafka, s);
  const total = Math.ceil(((beforeS + outageS + afterS) * rpm) / 60) + 500;
  const requests: ChatRequest[] = Array.from({ length: total }, (_, i) => ({
    request_id: `${s.id}-${i}`,
    conversation_id: `${s.id}-c${i % 2000}`,
    messages: [{ role: "user", content: `question ${i}` }],
    params: { max_tokens: 20 },
  }));
  await publisher.publish(requests);
  const worker = spawnWorker(s, fake.url, {
    METRICS_PORT: String(await freePort()),
    OPENAI_RPM: String(rpm),
    OPENAI_TPM: "0",
    RATELIMIT_SLICE_MS: "1000",
    TOPIC_PARTITIONS: "12",
    LOG_LEVEL: "warn",
  });
  const metricsUrl = await worker.metricsUrl;
  const t0 = Date.now();
  await sleep(beforeS * 1000);
  const outageAt = Date.now();
  await fake.configure(outage.start);
  await sleep(outageS * 1000);
  const endedAt = Date.now();
  await fake.configure(outage.end);
  await sleep(afterS * 1000);

  // Replies per second, by when they reached a consumer.
  const perSecond = new Map<number, number>();
  for (const m of replies.seen) {
    const sec = Math.floor((m.receivedAt - t0) / 1000);
    perSecond.set(sec, (perSecond.get(sec) ?? 0) + 1);
  }
  const at = (sec: number) => perSecond.get(sec) ?? 0;
  const outageSec = Math.floor((outageAt - t0) / 1000);
  const endSec = Math.floor((endedAt - t0) / 1000);
  const lastSec = Math.floor((Date.now() - t0) / 1000);
  // Full rate: the budget's, which the worker held before the outage (the median second of the 8 before it).
  const before = Array.from({ length: 8 }, (_, i) => at(outageSec - 8 + i)).sort((a, b) => a - b);
  const fullRate = before[4] ?? 0;
  // Back at full rate: the first moment after the outage's end from which one second holds ≥ 90 % of it.
  const times = replies.seen
    .map((m) => m.receivedAt)
    .filter((t) => t >= endedAt)
    .sort((a, b) => a - b);
  let recoveryMs: number | undefined;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (j < times.length && (times[j] as number) < (times[i] as number) + 1000) j++;
    if (j - i >= 0.9 * fullRate) {
      recoveryMs = (times[i] as number) - endedAt;
      break;
    }
  }
  const firstReplyMs = times[0] === undefined ? undefined : times[0] - endedAt;
  const replyList = replies.replies();
  const failed = replyList.filter((r) => r.status === "failed").length;
  const row = Array.from({ length: lastSec + 1 }, (_, sec) => at(sec));
  console.log(`replies per second: ${row.join(" ")}`);
  console.log(`  (outage from second ${outageSec} to ${endSec})`);
  const summary = {
    scenario,
    "outage (s)": outageS,
    "full rate (replies/s)": fullRate,
    "budget (calls/s)": rpm / 60,
    "from outage end to first reply (ms)": firstReplyMs ?? "none",
    "from outage end to full rate (ms)": recoveryMs ?? "not within the run",
    "failed replies": failed,
    "answered (distinct)": new Set(replyList.map((r) => r.request_id)).size,
    "calls requeued (uncharged)": await metricValue(metricsUrl, "chatq_openai_attempts_total", {
      outcome: "requeued",
    }),
    "calls retried (charged)": await metricValue(metricsUrl, "chatq_openai_attempts_total", {
      outcome: "retry",
    }),
  };
  for (const [k, v] of Object.entries(summary)) console.log(`${k.padEnd(36)} ${v}`);
  await worker.stop("SIGTERM");
  await Promise.all([replies.close(), publisher.close()]);
  await scenarioDb(s).drop();
  fake.process.kill("SIGTERM");
  return summary;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
