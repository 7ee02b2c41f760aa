import type { Consumer, Kafka, KafkaMessage } from "kafkajs";

export interface InRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestampMs: number;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The NEXT offset to read (last finished + 1), as Kafka commits it. */
  offset: string;
}

export interface BatchConsumerOptions {
  groupId: string;
  topic: string;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Caps one fetch response: with pause() this bounds how much is buffered beyond the in-flight limit. */
  maxBytes?: number;
  maxBytesPerPartition?: number;
  /**
   * How long the broker may hold a fetch open waiting for data, and how long kafkajs sleeps before looking again
   * when every partition is paused (resume() does not wake it). Default 250 ms; kafkajs's 5 s left a worker idle
   * for up to 5 s after each backpressure pause while its backlog waited in Kafka.
   */
  maxWaitTimeMs?: number;
  fromBeginning?: boolean;
}

export interface BatchConsumer {
  /**
   * Delivers fetched records, per partition in offset order. `onRecords` must hand them off and return: it runs on
   * kafkajs's fetch loop, and heartbeats wait for it. Nothing is committed unless `commit()` says so.
   */
  start(onRecords: (records: InRecord[]) => void): Promise<void>;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  pause(): void;
  resume(): void;
  /** Partitions this member owns after each (re)join; work of other partitions must no longer be committed. */
  onAssignment(cb: (partitions: number[]) => void): void;
  /** kafkajs gave up (restart false) or will restart the consumer. */
  onCrash(cb: (error: Error, restart: boolean) => void): void;
  /** Resolves once the member has joined the group and has its first assignment. */
  joined(): Promise<void>;
  disconnect(): Promise<void>;
}

export function createBatchConsumer(kafka: Kafka, opts: BatchConsumerOptions): BatchConsumer {
  const consumer: Consumer = kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: opts.heartbeatIntervalMs ?? 3_000,
    maxBytes: opts.maxBytes ?? 1024 * 1024,
    maxBytesPerPartition: opts.maxBytesPerPartition ?? 256 * 1024,
    maxWaitTimeInMs: opts.maxWaitTimeMs ?? 250,
    allowAutoTopicCreation: false,
  });
  const assignmentListeners: ((partitions: number[]) => void)[] = [];
  const crashListeners: ((error: Error, restart: boolean) => void)[] = [];
  let resolveJoined: () => void = () => {};
  const joined = new Promise<void>((resolve) => {
    resolveJoined = resolve;
  });

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const partitions = e.payload.memberAssignment[opts.topic] ?? [];
    for (const cb of assignmentListeners) cb([...partitions]);
    resolveJoined();
  });
  consumer.on(consumer.events.CRASH, (e) => {
    for (const cb of crashListeners) cb(e.payload.error, e.payload.restart);
  });

  return {
    async start(onRecords) {
      await consumer.connect();
      await consumer.subscribe({ topic: opts.topic, fromBeginning: opts.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, resolveOffset }) => {
          if (batch.messages.length === 0) return;
          onRecords(batch.messages.map((m) => toRecord(batch.topic, batch.partition, m)));
          // Advances the FETCH position only (autoCommit is off): commits come from chatq's offset tracker.
          resolveOffset(batch.lastOffset());
        },
      });
    },
    commit: (offsets) => consumer.commitOffsets([...offsets]),
    pause: () => consumer.pause([{ topic: opts.topic }]),
    resume: () => consumer.resume([{ topic: opts.topic }]),
    onAssignment: (cb) => {
      assignmentListeners.push(cb);
    },
    onCrash: (cb) => {
      crashListeners.push(cb);
    },
    joined: () => joined,
    disconnect: () => consumer.disconnect(),
  };
}

function toRecord(topic: string, partition: number, m: KafkaMessage): InRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v === undefined) continue;
    headers[k] = Array.isArray(v) ? v.map(String).join(",") : v.toString();
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key,
    value: m.value,
    headers,
    timestampMs: Number(m.timestamp),
  };
}
