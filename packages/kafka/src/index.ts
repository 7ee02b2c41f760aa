import { registerCodecs } from "./codecs.ts";

// Once, at import: every kafkajs client made through this package reads snappy, lz4 and zstd batches.
registerCodecs();

export type { Kafka } from "kafkajs";
export {
  type BatchConsumer,
  type BatchConsumerOptions,
  createBatchConsumer,
  type InRecord,
  type TopicPartitionOffset,
} from "./batch-consumer.ts";
export {
  createKafka,
  ensureTopics,
  type KafkaLog,
  type KafkaOptions,
  type PartitionLag,
  readLag,
  type TopicSpec,
} from "./client.ts";
export { COMPRESSIONS, type Compression } from "./codecs.ts";
export {
  createRecordProducer,
  type OutRecord,
  type RecordProducer,
  type RecordProducerOptions,
  refusalOf,
} from "./record-producer.ts";
