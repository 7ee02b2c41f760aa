// The floor under the worker's added latency, measured on the same machine in the same run: a bare
// produce → consume → produce → consume loop through the same clients and settings as a request's path
// (the benchmark's publisher → @chatq/kafka's batch consumer → @chatq/kafka's record producer with the worker's
// acks and codec → the benchmark's reply reader). Nothing else happens between the two hops: no Postgres, no
// API, no JSON. chatq's added latency divided by this is how much chatq adds on top of Kafka itself.
import { createBatchConsumer, createKafka, createRecordProducer } from "@chatq/kafka";
import type { Kafka } from "kafkajs";
import { collect } from "../harness/kafka-io.ts";

export interface FloorOptions {
  brokers: string[];
  /** Topic names of their own, so the loop never meets the worker's traffic. */
  inTopic: string;
  outTopic: string;
  groupId: string;
  ratePerSecond: number;
  seconds: number;
}

/** Latency of each round trip in ms, sorted. */
export async function measureKafkaFloor(kafka: Kafka, o: FloorOptions): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: o.inTopic, numPartitions: 12 },
      { topic: o.outTopic, numPartitions: 12 },
    ],
  });
  await admin.disconnect();

  // The worker's side: its own client settings, consumer and producer (lz4, acks all), as worker.ts builds them.
  const workerKafka = createKafka({ brokers: o.brokers, clientId: `${o.groupId}-relay` });
  const relayOut = await createRecordProducer(workerKafka, { compression: "lz4" });
  const relayIn = createBatchConsumer(workerKafka, { groupId: o.groupId, topic: o.inTopic });
  await relayIn.start((records) => {
    void relayOut.send(
      records.map((r) => ({ topic: o.outTopic, key: r.key?.toString() ?? null, value: r.value ?? "" })),
    );
  });
  await relayIn.joined();
  const reader = await collect(kafka, o.outTopic, o.groupId);
  const producer = kafka.producer();
  await producer.connect();

  const sentAt = new Map<string, number>();
  let seq = 0;
  // The first 2 s warm connections and the codec up; they are sent but not counted.
  const countFrom = Date.now() + 2_000;
  const until = countFrom + o.seconds * 1000;
  const perTick = o.ratePerSecond / 10;
  let owed = 0;
  while (Date.now() < until) {
    owed += perTick;
    const n = Math.floor(owed);
    owed -= n;
    const messages = Array.from({ length: n }, () => {
      const id = String(seq++);
      if (Date.now() >= countFrom) sentAt.set(id, Date.now());
      return { key: `k-${id}`, value: id };
    });
    if (n > 0) await producer.send({ topic: o.inTopic, messages });
    await new Promise((r) => setTimeout(r, 100));
  }
  await reader.waitFor(seq, 30_000).catch(() => undefined);
  const latencies = reader.seen
    .map((m) => m.receivedAt - (sentAt.get(m.value?.toString() ?? "") ?? Number.NaN))
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  await Promise.all([producer.disconnect(), reader.close(), relayIn.disconnect()]);
  await relayOut.disconnect();
  return latencies;
}
