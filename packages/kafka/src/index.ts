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
export { createRecordProducer, type OutRecord, type RecordProducer, refusalOf } from "./record-producer.ts";
