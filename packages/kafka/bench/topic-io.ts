import { existsSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  type Compression,
  createBatchConsumer,
  createKafka,
  createRecordProducer,
  ensureTopics,
  type Kafka,
} from "../src/index.ts";
import { chatJson } from "./sample-records.ts";

export const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const dataDir = process.env.KAFKA_DATA_DIR ?? join(homedir(), ".local/state/chatq/kafka/data");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export function benchKafka(clientId: string): Kafka {
  return createKafka({ brokers, clientId, log: quiet });
}

/** Bytes of a topic's segment files on the local broker (what producer-compressed batches take on the wire). */
export function bytesOnDisk(topic: string, partitions: number): number | undefined {
  let total = 0;
  for (let p = 0; p < partitions; p++) {
    const dir = join(dataDir, `${topic}-${p}`);
    if (!existsSync(dir)) return undefined;
    for (const f of readdirSync(dir)) if (f.endsWith(".log")) total += statSync(join(dir, f)).size;
  }
  return total;
}

/** Produces `count` chat JSON messages of ~`bytes` through chatq's producer, 500 per send as the worker batches. */
export async function fillTopic(
  kafka: Kafka,
  topic: string,
  opts: { partitions: number; count: number; bytes: number; compression: Compression },
): Promise<{ produceMs: number; rawBytes: number }> {
  await ensureTopics(kafka, [{ name: topic, partitions: opts.partitions }]);
  const producer = await createRecordProducer(kafka, { compression: opts.compression });
  let rawBytes = 0;
  const batches: { topic: string; key: string; value: string }[][] = [];
  for (let i = 0; i < opts.count; i += 500)
    batches.push(
      Array.from({ length: Math.min(500, opts.count - i) }, (_, j) => {
        const value = chatJson(i + j, opts.bytes);
        rawBytes += value.length;
        return { topic, key: `c-${(i + j) % 97}`, value };
      }),
    );
  const t0 = performance.now();
  for (const records of batches) await producer.send(records);
  const produceMs = performance.now() - t0;
  await producer.disconnect();
  return { produceMs, rawBytes };
}

/** Reads `count` messages with chatq's batch consumer in a fresh group; ms from the first record to the last. */
export async function consumeWithKafkajs(kafka: Kafka, topic: string, count: number): Promise<number> {
  const consumer = createBatchConsumer(kafka, {
    groupId: `bench-kafkajs-${topic}-${Math.random().toString(36).slice(2)}`,
    topic,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
  });
  let seen = 0;
  let t0 = 0;
  const ms = await new Promise<number>((resolve) => {
    void consumer.start((records) => {
      if (seen === 0) t0 = performance.now();
      seen += records.length;
      if (seen >= count) resolve(performance.now() - t0);
    });
  });
  await consumer.disconnect();
  return ms;
}
