// `pnpm bench codecs`: one worker answering a backlog whose batches were compressed with each codec, against the
// uncompressed backlog. The fake API answers at once with no limit, so what differs is Kafka and decoding.
// The worker's replies use the same codec (KAFKA_COMPRESSION). Prints figures; asserts nothing.
//   node test/bench/codecs.ts [--backlog N] [--bytes B] [--codecs none,gzip,...]
import { parseArgs } from "node:util";
import { COMPRESSIONS, type Compression, createKafka, createRecordProducer } from "@chatq/kafka";
import { scenarioDb } from "../harness/database.ts";
import { startFakeProcess } from "../harness/fake-process.ts";
import { collect, createTopics, testKafka } from "../harness/kafka-io.ts";
import { scenarioFor } from "../harness/names.ts";
import { freePort, spawnWorker } from "../harness/worker-process.ts";

const { values } = parseArgs({
  options: {
    backlog: { type: "string", default: "20000" },
    bytes: { type: "string", default: "1000" },
    codecs: { type: "string", default: COMPRESSIONS.join(",") },
  },
});
const backlog = Number(values.backlog);
const contentBytes = Number(values.bytes);
const services = {
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/chatq_test",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  source: { kafka: "env", postgres: "env", redis: "env" },
};
console.log(
  `# codecs: one worker, a ${backlog}-request backlog of ~${contentBytes} B requests (one turn per conversation), fake API at 0 ms, no limit`,
);
const fake = await startFakeProcess({ latencyMs: 0, jitterMs: 0, rpm: 0, tpm: 0, sliceMs: 1000 });

// A first, unreported round: otherwise the first codec alone pays for cold Postgres, fake and JIT.
await runOnce("none", Math.max(1000, Math.floor(backlog / 5)));
// Two passes, forward then backward, averaged: a run's place in the sequence must not decide its figure.
const codecs = (values.codecs ?? "").split(",") as Compression[];
const runs = new Map<string, number[]>(codecs.map((c) => [c, []]));
for (const codec of [...codecs, ...[...codecs].reverse()]) {
  const result = await runOnce(codec, backlog);
  runs.get(codec)?.push(result.perSecond);
  console.log(
    `${codec.padEnd(7)} ${result.perSecond.toFixed(0).padStart(6)} answered/s (steady), all in ${result.totalS.toFixed(1)} s`,
  );
}
const rows = codecs.map((codec) => {
  const r = runs.get(codec) ?? [];
  return { codec, perSecond: r.reduce((a, b) => a + b, 0) / Math.max(1, r.length), runs: r.map(Math.round) };
});
const none = rows.find((r) => r.codec === "none");
console.log("");
for (const r of rows)
  console.log(
    `${r.codec.padEnd(7)} ${r.perSecond.toFixed(0).padStart(6)}/s (${r.runs.join(", ")})${none ? `  ${((100 * r.perSecond) / none.perSecond).toFixed(0)}% of uncompressed` : ""}`,
  );
console.log(`\nJSON ${JSON.stringify({ bench: "codecs", backlog, contentBytes, rows })}`);
fake.process.kill("SIGTERM");
process.exit(0);

async function runOnce(codec: Compression, count: number): Promise<{ perSecond: number; totalS: number }> {
  const s = scenarioFor(`bench_codec_${codec}`, services);
  const kafka = testKafka(s);
  await createTopics(kafka, s, 12);
  const producer = await createRecordProducer(
    createKafka({ brokers: services.kafkaBrokers, clientId: s.id }),
    {
      compression: codec,
    },
  );
  const filler = "word ".repeat(Math.max(0, Math.floor((contentBytes - 150) / 5)));
  for (let i = 0; i < count; i += 500)
    await producer.send(
      Array.from({ length: Math.min(500, count - i) }, (_, j) => {
        const n = i + j;
        // One turn per conversation: no history to load, so the worker's own work per request stays small and
        // what Kafka and decoding cost is not hidden behind it.
        const request = {
          request_id: `${s.id}-${n}`,
          messages: [{ role: "user", content: `Question ${n} (${Math.random().toString(36)}): ${filler}` }],
          params: { max_tokens: 50 },
        };
        return { topic: s.topics.requests, key: request.request_id, value: JSON.stringify(request) };
      }),
    );
  await producer.disconnect();
  const replies = await collect(kafka, s.topics.replies, s.id);
  const worker = spawnWorker(s, fake.url, {
    METRICS_PORT: String(await freePort()),
    KAFKA_COMPRESSION: codec,
    OPENAI_RPM: "0",
    OPENAI_TPM: "0",
    WORKER_MAX_IN_FLIGHT: "500",
    TOPIC_PARTITIONS: "12",
    LOG_LEVEL: "warn",
  });
  await worker.metricsUrl;
  const started = Date.now();
  await replies.waitForRequests(count, 600_000);
  const arrivals = replies.seen.map((m) => m.receivedAt).sort((a, b) => a - b);
  // The middle 80% of the replies: no group join at the start, no tail.
  const from = arrivals[Math.floor(arrivals.length * 0.1)] ?? started;
  const to = arrivals[Math.floor(arrivals.length * 0.9)] ?? Date.now();
  const perSecond = (arrivals.filter((a) => a >= from && a <= to).length / Math.max(1, to - from)) * 1000;
  const totalS = ((arrivals.at(-1) ?? started) - started) / 1000;
  await worker.stop("SIGTERM");
  await replies.close();
  await scenarioDb(s).drop();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(s.topics) });
  await admin.disconnect();
  return { perSecond, totalS };
}
