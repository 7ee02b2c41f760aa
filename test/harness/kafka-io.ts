// chatq's codecs (snappy, lz4, zstd) registered into kafkajs: the worker's replies may use any of them.
import "@chatq/kafka";
import type { ChatReply, ChatRequest } from "@chatq/contracts";
import { type Consumer, type IHeaders, Kafka, logLevel, Partitioners, type Producer } from "kafkajs";
import type { Scenario } from "./names.ts";

export function testKafka(s: Scenario): Kafka {
  return new Kafka({
    brokers: s.services.kafkaBrokers,
    clientId: `test-${s.id}`,
    logLevel: logLevel.NOTHING,
  });
}

/** Creates the scenario's topics up front, so producing never races the worker's own creation. */
export async function createTopics(kafka: Kafka, s: Scenario, partitions = 6): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: s.topics.requests, numPartitions: partitions },
      { topic: s.topics.replies, numPartitions: partitions },
      { topic: s.topics.deadLetter, numPartitions: 2 },
    ],
  });
  await admin.disconnect();
}

export interface RequestPublisher {
  publish(requests: ChatRequest[]): Promise<void>;
  publishRaw(
    messages: { key: string | null; value: Buffer | string | null; headers?: Record<string, string> }[],
  ): Promise<void>;
  close(): Promise<void>;
}

export async function requestPublisher(kafka: Kafka, s: Scenario): Promise<RequestPublisher> {
  const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return {
    async publish(requests) {
      for (let i = 0; i < requests.length; i += 500) {
        await producer.send({
          topic: s.topics.requests,
          messages: requests.slice(i, i + 500).map((r) => ({
            key: r.conversation_id ?? r.request_id,
            value: JSON.stringify(r),
          })),
        });
      }
    },
    async publishRaw(messages) {
      await producer.send({ topic: s.topics.requests, messages });
    },
    close: () => producer.disconnect(),
  };
}

export interface Collected {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** When this process read it (ms since the epoch): benchmarks time replies with it. */
  receivedAt: number;
}

/** Reads a topic from the beginning into memory for the test to inspect. */
export async function collect(kafka: Kafka, topic: string, groupSuffix: string) {
  const seen: Collected[] = [];
  const consumer: Consumer = kafka.consumer({
    groupId: `collector-${topic}-${groupSuffix}`,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const joined = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  await consumer.run({
    eachMessage: async ({ topic: t, partition, message }) => {
      seen.push({
        topic: t,
        partition,
        offset: message.offset,
        key: message.key?.toString("utf8") ?? null,
        value: message.value,
        headers: headersOf(message.headers),
        receivedAt: Date.now(),
      });
    },
  });
  await joined;
  return {
    seen,
    replies: (): ChatReply[] => seen.map((m) => JSON.parse(m.value?.toString("utf8") ?? "null") as ChatReply),
    async waitFor(count: number, timeoutMs = 120_000): Promise<void> {
      await until(
        () => seen.length >= count,
        timeoutMs,
        () => `only ${seen.length} of ${count} messages arrived on ${topic}`,
      );
    },
    /** Waits for replies to `count` different requests (a re-published reply counts once). */
    async waitForRequests(count: number, timeoutMs = 120_000): Promise<void> {
      const ids = new Set<string>();
      let read = 0;
      await until(
        () => {
          for (; read < seen.length; read++) {
            const reply = JSON.parse(seen[read]?.value?.toString("utf8") ?? "{}") as { request_id?: string };
            if (reply.request_id) ids.add(reply.request_id);
          }
          return ids.size >= count;
        },
        timeoutMs,
        () => `replies to only ${ids.size} of ${count} requests arrived on ${topic}`,
      );
    },
    close: () => consumer.disconnect(),
  };
}

function headersOf(h: IHeaders | undefined): Record<string, string> {
  // Own properties even for a header named __proto__ (assignment would set the prototype instead).
  return Object.fromEntries(
    Object.entries(h ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])),
  );
}

export async function until(done: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((r) => setTimeout(r, 100));
  }
}
