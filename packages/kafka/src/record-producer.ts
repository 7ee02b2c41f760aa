import { CompressionTypes, type Kafka, Partitioners, type Producer } from "kafkajs";

export interface OutRecord {
  topic: string;
  key: string | null;
  value: string | Buffer;
  headers?: Record<string, string>;
}

export interface RecordProducer {
  /** Sends all records in one request per broker, acknowledged by all in-sync replicas. */
  send(records: readonly OutRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

export async function createRecordProducer(kafka: Kafka): Promise<RecordProducer> {
  const producer: Producer = kafka.producer({
    // Same key → same partition as the Java client and librdkafka (murmur2), so non-Node producers agree.
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  return {
    async send(records) {
      if (records.length === 0) return;
      const byTopic = new Map<
        string,
        { key: string | null; value: string | Buffer; headers?: Record<string, string> }[]
      >();
      for (const r of records) {
        let list = byTopic.get(r.topic);
        if (!list) {
          list = [];
          byTopic.set(r.topic, list);
        }
        list.push(
          r.headers ? { key: r.key, value: r.value, headers: r.headers } : { key: r.key, value: r.value },
        );
      }
      await producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    },
    disconnect: () => producer.disconnect(),
  };
}
