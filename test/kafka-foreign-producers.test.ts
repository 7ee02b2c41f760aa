import { type FakeOpenAI, startFakeOpenAI } from "@chatq/fake-openai";
import {
  COMPRESSIONS,
  type Compression,
  createKafka,
  createRecordProducer,
  ensureTopics,
} from "@chatq/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spyOnCodecs } from "./harness/codec-spy.ts";
import { type Codec, javaConsoleProduce, kcatConsume, kcatProduce } from "./harness/foreign-clients.ts";
import { collect, createTopics, requestPublisher, testKafka } from "./harness/kafka-io.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { spawnWorker } from "./harness/worker-process.ts";

// Java producers and every librdkafka client (Go, Python, .NET, kcat) send snappy, lz4 or zstd batches when
// compression.type is set; kafkajs alone reads only gzip.
const CODECS: Codec[] = ["gzip", "snappy", "lz4", "zstd"];
const PER_PRODUCER = 8;

const request = (id: string) =>
  `${id}\t${JSON.stringify({ request_id: id, conversation_id: id, messages: [{ role: "user", content: `hello from ${id}` }] })}`;

describe("requests written by producers that are not kafkajs", () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: "sk-chatq-test", latencyMs: 0 });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it("answers every message kcat and Kafka's Java producer send with gzip, snappy, lz4 and zstd", async () => {
    const s = uniqueScenario("foreign");
    const kafka = testKafka(s);
    await createTopics(kafka, s, 3);
    const spy = spyOnCodecs();
    const replies = await collect(kafka, s.topics.replies, s.id);
    const worker = spawnWorker(s, fake.url, { KAFKA_COMPRESSION: "snappy" });
    try {
      await worker.metricsUrl;
      const ids: string[] = [];
      for (const codec of CODECS) {
        const kcatIds = Array.from({ length: PER_PRODUCER }, (_, i) => `${s.id}-kcat-${codec}-${i}`);
        const javaIds = Array.from({ length: PER_PRODUCER }, (_, i) => `${s.id}-java-${codec}-${i}`);
        await kcatProduce(s.services.kafkaBrokers, s.topics.requests, codec, kcatIds.map(request));
        await javaConsoleProduce(s.services.kafkaBrokers, s.topics.requests, codec, javaIds.map(request));
        ids.push(...kcatIds, ...javaIds);
      }
      await replies.waitForRequests(ids.length);
      const answered = new Map(replies.replies().map((r) => [r.request_id, r.status]));
      for (const id of ids) expect(answered.get(id), id).toBe("completed");
      // The worker's own replies went out as KAFKA_COMPRESSION said, and kcat reads them.
      expect(spy.counts.snappy ?? 0).toBeGreaterThan(0);
      const viaKcat = await kcatConsume(s.services.kafkaBrokers, s.topics.replies, ids.length);
      expect(new Set(viaKcat.map((v) => (JSON.parse(v) as { request_id: string }).request_id))).toEqual(
        new Set(ids),
      );
      expect(worker.proc.exitCode).toBeNull();
      // kafkajs's idle request queue no longer sets negative 1 ms timers (chatq's patch; the warning is not silenced).
      expect(worker.stderr()).not.toMatch(/TimeoutNegativeWarning/);
    } finally {
      spy.restore();
      await worker.stop();
      await replies.close();
    }
  });

  it("answers requests on a topic the broker compresses with zstd, written uncompressed", async () => {
    const s = uniqueScenario("brokerzstd");
    const kafka = testKafka(s);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: s.topics.requests,
          numPartitions: 2,
          configEntries: [{ name: "compression.type", value: "zstd" }],
        },
        { topic: s.topics.replies, numPartitions: 2 },
        { topic: s.topics.deadLetter, numPartitions: 1 },
      ],
    });
    await admin.disconnect();
    const spy = spyOnCodecs();
    const requests = await collect(kafka, s.topics.requests, `${s.id}-raw`);
    const replies = await collect(kafka, s.topics.replies, s.id);
    const publisher = await requestPublisher(kafka, s);
    const worker = spawnWorker(s, fake.url, { KAFKA_COMPRESSION: "zstd" });
    try {
      await worker.metricsUrl;
      const ids = Array.from({ length: 20 }, (_, i) => `${s.id}-${i}`);
      await publisher.publish(
        ids.map((id) => ({ request_id: id, messages: [{ role: "user", content: id }] })),
      );
      await requests.waitFor(ids.length);
      // The broker rewrote the uncompressed batches as zstd: that is what every reader gets.
      expect(spy.counts.zstd ?? 0).toBeGreaterThan(0);
      await replies.waitForRequests(ids.length);
      expect(new Set(replies.replies().map((r) => r.request_id))).toEqual(new Set(ids));
      expect(replies.replies().every((r) => r.status === "completed")).toBe(true);
    } finally {
      spy.restore();
      await worker.stop();
      await publisher.close();
      await requests.close();
      await replies.close();
    }
  });

  it("writes with every KAFKA_COMPRESSION value batches that kcat reads back", async () => {
    const s = uniqueScenario("chatqcodecs");
    const kafka = createKafka({ brokers: s.services.kafkaBrokers, clientId: `test-${s.id}` });
    const reader = testKafka(s);
    for (const codec of COMPRESSIONS) {
      const topic = `${s.id}.${codec}`;
      await ensureTopics(kafka, [{ name: topic, partitions: 1 }]);
      const producer = await createRecordProducer(kafka, { compression: codec as Compression });
      const values = Array.from({ length: 50 }, (_, i) =>
        JSON.stringify({ codec, i, text: "reply ".repeat(40) }),
      );
      await producer.send(values.map((value, i) => ({ topic, key: `k${i}`, value })));
      await producer.disconnect();
      expect(await kcatConsume(s.services.kafkaBrokers, topic, values.length), codec).toEqual(values);

      // And the batches on the broker are in that codec (none: no codec looked up at all).
      const spy = spyOnCodecs();
      const back = await collect(reader, topic, s.id);
      try {
        await back.waitFor(values.length);
        expect(Object.keys(spy.counts), codec).toEqual(codec === "none" ? [] : [codec]);
      } finally {
        spy.restore();
        await back.close();
      }
    }
  });
});
