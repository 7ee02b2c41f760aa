import { DLQ_HEADERS } from "@chatq/contracts";
import { type FakeOpenAI, startFakeOpenAI } from "@chatq/fake-openai";
import { CompressionTypes, Partitioners } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, testKafka, until } from "./harness/kafka-io.ts";
import { type PrivateKafka, startPrivateKafka } from "./harness/private-kafka.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { corruptCompressedBatch, readBatches, segmentsOf } from "./harness/segment-file.ts";
import { metricValue, spawnWorker } from "./harness/worker-process.ts";

// A record batch on disk that no client can decode (its compressed bytes corrupted; kafkajs checks no CRC, and the
// broker serves segment bytes as they are). Before chatq's kafkajs patch it failed every fetch of its broker and
// the worker died on it, and so did every replica after it.

/** Reads until `ok` or 30 s, for state only a query can see; returns the last read, for the assertion to show. */
async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (const deadline = Date.now() + 30_000; ; ) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("a record batch the client cannot decode", () => {
  let fake: FakeOpenAI;
  let broker: PrivateKafka;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: "sk-chatq-test", latencyMs: 0 });
    broker = await startPrivateKafka();
  });
  afterAll(async () => {
    await broker?.close();
    await fake?.close();
  });

  it("is dead-lettered with its offsets and audited, everything else is answered and committed past", async () => {
    const base = uniqueScenario("undecodable");
    const s = { ...base, services: { ...base.services, kafkaBrokers: broker.brokers } };
    const kafka = testKafka(s);
    await createTopics(kafka, s, 2);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const request = (id: string) =>
      JSON.stringify({ request_id: id, messages: [{ role: "user", content: id }] });
    const send = async (partition: number, ids: string[], compression = CompressionTypes.None) => {
      const [meta] = await producer.send({
        topic: s.topics.requests,
        compression,
        messages: ids.map((id) => ({ partition, key: id, value: request(id) })),
      });
      return Number(meta?.baseOffset);
    };
    const ids = (label: string, n: number) => Array.from({ length: n }, (_, i) => `${s.id}-${label}-${i}`);
    // Partition 0: a good batch, a zstd batch that will be corrupted, a good zstd batch. Partition 1: good ones.
    const before = ids("before", 3);
    const lost = ids("lost", 4);
    const after = ids("after", 3);
    const other = ids("other", 5);
    await send(0, before);
    const lostAt = await send(0, lost, CompressionTypes.ZSTD);
    await send(0, after, CompressionTypes.ZSTD);
    await send(1, other.slice(0, 2), CompressionTypes.ZSTD);
    await send(1, other.slice(2));
    await producer.disconnect();

    await broker.stop("term");
    const segment = segmentsOf(broker.dataDir, s.topics.requests, 0).find((f) =>
      readBatches(f).some((b) => b.baseOffset === lostAt),
    );
    if (!segment) throw new Error(`no segment holds offset ${lostAt}`);
    const corrupted = corruptCompressedBatch(segment, lostAt);
    expect(corrupted.lastOffset).toBe(lostAt + lost.length - 1);
    await broker.start();

    const replies = await collect(kafka, s.topics.replies, s.id);
    const dlq = await collect(kafka, s.topics.deadLetter, s.id);
    const worker = spawnWorker(s, fake.url);
    const db = scenarioDb(s);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const metricsUrl = await worker.metricsUrl;
      const answerable = [...before, ...after, ...other];
      await replies.waitForRequests(answerable.length);
      await dlq.waitFor(1);
      expect(new Set(replies.replies().map((r) => r.request_id))).toEqual(new Set(answerable));

      const [dead] = dlq.seen;
      expect(dead?.headers).toMatchObject({
        [DLQ_HEADERS.errorCode]: "undecodable_batch",
        [DLQ_HEADERS.sourceTopic]: s.topics.requests,
        [DLQ_HEADERS.sourcePartition]: "0",
        [DLQ_HEADERS.sourceOffset]: String(lostAt),
        [DLQ_HEADERS.sourceLastOffset]: String(corrupted.lastOffset),
      });
      expect(dead?.headers[DLQ_HEADERS.errorMessage]).toMatch(/cannot decompress \(zstd\)/);
      // The raw batch as it is on disk: its first 8 bytes are its base offset.
      expect(dead?.value?.readBigInt64BE(0)).toBe(BigInt(lostAt));

      await until(
        () => worker.logs.some((l) => l.msg === "undecodable record batch dead-lettered and skipped"),
        30_000,
        () => "no log line for the undecodable batch",
      );
      const audit = await poll(
        () =>
          db.query<{ detail: Record<string, unknown> }>(
            "select detail from audit_log where event = 'dead_lettered' and error_code = 'undecodable_batch'",
          ),
        (rows) => rows.length > 0,
      );
      expect(audit).toHaveLength(1);
      expect(audit[0]?.detail).toMatchObject({
        topic: s.topics.requests,
        partition: 0,
        first_offset: String(lostAt),
        last_offset: String(corrupted.lastOffset),
      });
      expect(await metricValue(metricsUrl, "chatq_undecodable_batches_total")).toBe(1);
      expect(await metricValue(metricsUrl, "chatq_undecodable_offsets_total")).toBe(lost.length);
      expect(await metricValue(metricsUrl, "chatq_dead_letters_total", { reason: "undecodable_batch" })).toBe(
        1,
      );

      // Committed to the end of both partitions: the range is never fetched again.
      const ends = new Map(
        (await admin.fetchTopicOffsets(s.topics.requests)).map((p) => [p.partition, p.high]),
      );
      const committed = await poll(
        async () => {
          const [t] = await admin.fetchOffsets({ groupId: s.groupId, topics: [s.topics.requests] });
          return new Map((t?.partitions ?? []).map((p) => [p.partition, p.offset]));
        },
        (c) => [...ends].every(([p, high]) => c.get(p) === high),
      );
      expect(committed).toEqual(ends);
      expect(worker.proc.exitCode).toBeNull();
    } finally {
      await worker.stop();
      await admin.disconnect();
      await replies.close();
      await dlq.close();
      await db.drop();
    }
  });
});
