// Batch work benchmark: (1) cost per 1,000 requests answered synchronously vs through the Batch API, measured with
// real workers and the fake's Batch API (tokens from the fake, prices from the catalog); (2) `chatq replay`
// throughput when the budget is otherwise idle; (3) interactive p50/p99 with and without a replay running on the
// same shared budget. Real Kafka, Postgres and Redis. Prints figures; asserts nothing.
//   pnpm bench batch [--requests 1000] [--replay 3000] [--rpm 6000] [--latency-ms 200]
import { execFile } from "node:child_process";
import { parseArgs, promisify } from "node:util";
import type { ChatRequest } from "@chatq/contracts";
import { startFakeOpenAI } from "@chatq/fake-openai";
import { costOf, defaultPriceTable } from "@chatq/llm";
import { scenarioDb } from "../harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka } from "../harness/kafka-io.ts";
import { scenarioFor } from "../harness/names.ts";
import { spawnWorker } from "../harness/worker-process.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "1000" },
    replay: { type: "string", default: "3000" },
    rpm: { type: "string", default: "6000" },
    "latency-ms": { type: "string", default: "200" },
    "interactive-s": { type: "string", default: "20" },
    "interactive-rate": { type: "string", default: "20" },
  },
});
const N = Number(values.requests);
const REPLAY = Number(values.replay);
const RPM = Number(values.rpm);
const LATENCY = Number(values["latency-ms"]);
const INTERACTIVE_S = Number(values["interactive-s"]);
const INTERACTIVE_RATE = Number(values["interactive-rate"]);
const run = promisify(execFile);

const services = {
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/chatq_test",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  source: { kafka: "env", postgres: "env", redis: "env" },
};
const fake = await startFakeOpenAI({
  apiKey: "sk-chatq-test",
  latencyMs: LATENCY,
  jitterMs: LATENCY / 2,
  rpm: RPM,
  tpm: RPM * 1000,
  limitSliceMs: 1000,
  batches: { time_scale: 2000 },
});
const budget = { OPENAI_RPM: String(RPM), OPENAI_TPM: String(RPM * 1000), RATELIMIT_SLICE_MS: "1000" };
const question = (i: number) =>
  `Ticket ${i}: the customer says the invoice total does not match the order. Classify it and suggest a reply.`;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

async function scenario(label: string) {
  const s = scenarioFor(label, services);
  const kafka = testKafka(s);
  await createTopics(kafka, s);
  return { s, kafka, db: scenarioDb(s) };
}

// 1. Cost per 1,000: the same requests, the synchronous way and through the Batch API.
console.log(
  `# batch: cost per 1,000 requests (gpt-4o-mini, ${N} requests each way), catalog ${defaultPriceTable().version}`,
);
const costs: Record<string, { usd: number; prompt: number; completion: number; seconds: number }> = {};
for (const mode of ["sync", "batch_api"] as const) {
  const { s, kafka, db } = await scenario(`bench_batch_${mode}`);
  const replies = await collect(kafka, s.topics.replies, s.id);
  const publisher = await requestPublisher(kafka, s);
  const worker = spawnWorker(s, fake.url, {
    ...budget,
    LOG_LEVEL: "info",
    BATCH_MODE: mode,
    BATCH_MAX_WAIT_MS: "500",
    BATCH_POLL_MIN_MS: "200",
    BATCH_POLL_MAX_MS: "1000",
  });
  await worker.metricsUrl;
  const started = performance.now();
  await publisher.publish(
    Array.from({ length: N }, (_, i) => ({
      request_id: `${s.id}-${i}`,
      priority: "batch" as const,
      messages: [{ role: "user" as const, content: question(i) }],
    })),
  );
  await replies.waitForRequests(N, 300_000);
  const seconds = (performance.now() - started) / 1000;
  const [row] = await db.query<{ usd: string; prompt: string; completion: string }>(
    "select sum(cost_usd) as usd, sum(prompt_tokens) as prompt, sum(completion_tokens) as completion from usage",
  );
  costs[mode] = {
    usd: (Number(row?.usd) * 1000) / N,
    prompt: Number(row?.prompt) / N,
    completion: Number(row?.completion) / N,
    seconds,
  };
  await worker.stop();
  await Promise.all([replies.close(), publisher.close()]);
  await db.drop();
}
const sync = costs.sync as NonNullable<(typeof costs)["sync"]>;
const batch = costs.batch_api as NonNullable<(typeof costs)["batch_api"]>;
console.log(
  `measured: sync $${sync.usd.toFixed(5)} / 1k (${sync.seconds.toFixed(1)} s), Batch API $${batch.usd.toFixed(5)} / 1k ` +
    `(${batch.seconds.toFixed(1)} s at the fake's time scale 2000), ${(100 * (1 - batch.usd / sync.usd)).toFixed(0)} % less; ` +
    `${sync.prompt.toFixed(0)} prompt + ${sync.completion.toFixed(0)} completion tokens per request`,
);
console.log("at the catalog's prices, same tokens per request:");
console.log("| model | sync USD / 1k | Batch API USD / 1k |");
console.log("| --- | ---: | ---: |");
for (const model of ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"]) {
  const usage = { prompt_tokens: sync.prompt * 1000, completion_tokens: sync.completion * 1000 };
  const a = costOf(defaultPriceTable(), model, usage);
  const b = costOf(defaultPriceTable(), model, { ...usage, batch: true });
  console.log(`| ${model} | ${a?.toFixed(4)} | ${b?.toFixed(4)} |`);
}

// 2 and 3: replay throughput alone, and interactive latency with and without a replay on the same budget.
const { s, kafka, db } = await scenario("bench_replay");
const replayTopic = `${s.id}.requests.replay`;
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ waitForLeaders: true, topics: [{ topic: replayTopic, numPartitions: 6 }] });
await admin.disconnect();
const replies = await collect(kafka, s.topics.replies, s.id);
const publisher = await requestPublisher(kafka, s);
const live = spawnWorker(s, fake.url, { ...budget, LOG_LEVEL: "info" });
await live.metricsUrl;
const reprocessor = spawnWorker(s, fake.url, {
  ...budget,
  LOG_LEVEL: "info",
  TOPIC_REQUESTS: replayTopic,
  KAFKA_GROUP_ID: `${s.groupId}-replay`,
  BATCH_TOPICS: replayTopic,
});
await reprocessor.metricsUrl;
const history: ChatRequest[] = Array.from({ length: REPLAY }, (_, i) => ({
  request_id: `${s.id}-h${i}`,
  tenant: "history",
  messages: [{ role: "user", content: question(i) }],
}));
await publisher.publish(history);
await replies.waitForRequests(REPLAY, 600_000);
// Both replays take the history as it stood here, not each other's replays (same tenant).
const historyUntil = new Date().toISOString();

function replayCli(...args: string[]) {
  return run(process.execPath, ["services/cli/src/main.ts", "replay", ...args], {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH ?? "",
      KAFKA_BROKERS: services.kafkaBrokers.join(","),
      DATABASE_URL: services.databaseUrl,
      DATABASE_SCHEMA: s.schema,
      TOPIC_REPLAY: replayTopic,
    },
  });
}
const replayIdsDone = (seen: number) =>
  replies
    .replies()
    .slice(seen)
    .filter((r) => r.request_id.includes("~r")).length;

let seen = replies.seen.length;
let t0 = performance.now();
await replayCli("--tenant", "history", "--until", historyUntil);
const published = (performance.now() - t0) / 1000;
await waitFor(() => replayIdsDone(seen) >= REPLAY, 600_000);
const idleS = (performance.now() - t0) / 1000;
console.log(
  `# replay: ${REPLAY} stored requests, budget ${RPM} RPM otherwise idle, ${LATENCY} ms latency: published in ` +
    `${published.toFixed(1)} s, answered in ${idleS.toFixed(1)} s = ${(REPLAY / idleS).toFixed(0)} requests/s ` +
    `(the budget allows ${(RPM / 60).toFixed(0)}/s)`,
);

async function interactiveRun(label: string): Promise<number[]> {
  const sent = new Map<string, number>();
  const from = replies.seen.length;
  for (let i = 0; i < INTERACTIVE_S * INTERACTIVE_RATE; i++) {
    const id = `${s.id}-${label}-${i}`;
    sent.set(id, Date.now());
    await publisher.publish([
      { request_id: id, priority: "interactive", messages: [{ role: "user", content: `live ${i}` }] },
    ]);
    await new Promise((r) => setTimeout(r, 1000 / INTERACTIVE_RATE));
  }
  await waitFor(() => {
    let n = 0;
    for (const m of replies.seen.slice(from))
      if (sent.has(JSON.parse(m.value?.toString() ?? "{}").request_id)) n++;
    return n >= sent.size;
  }, 120_000);
  const ms: number[] = [];
  for (const m of replies.seen.slice(from)) {
    const at = sent.get(JSON.parse(m.value?.toString() ?? "{}").request_id);
    if (at !== undefined) ms.push(m.receivedAt - at);
  }
  return ms;
}
const quiet = await interactiveRun("quiet");
seen = replies.seen.length;
t0 = performance.now();
const replaying = replayCli("--tenant", "history", "--until", historyUntil);
const busy = await interactiveRun("busy");
await replaying;
await waitFor(() => replayIdsDone(seen) >= REPLAY, 600_000);
const busyS = (performance.now() - t0) / 1000;
console.log(
  `# interactive at ${INTERACTIVE_RATE}/s for ${INTERACTIVE_S} s, end to end: without a replay p50 ${pct(quiet, 50)} ms ` +
    `p99 ${pct(quiet, 99)} ms; with a ${REPLAY}-request replay on the same budget p50 ${pct(busy, 50)} ms p99 ` +
    `${pct(busy, 99)} ms (the replay finished in ${busyS.toFixed(1)} s)`,
);

await reprocessor.stop();
await live.stop();
await Promise.all([replies.close(), publisher.close()]);
await db.drop();
await fake.close();
process.exit(0);

async function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("benchmark timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}
