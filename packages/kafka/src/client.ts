import { type Admin, Kafka, type KafkaConfig, logLevel as KafkaLogLevel, type LogEntry } from "kafkajs";

export interface KafkaLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  /** kafkajs logs go through chatq's logger, so they are JSON lines like everything else. */
  log?: KafkaLog;
  connectionTimeoutMs?: number;
}

export function createKafka(opts: KafkaOptions): Kafka {
  const config: KafkaConfig = {
    brokers: opts.brokers,
    clientId: opts.clientId,
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    // A backoff sleep is not cut short when the broker comes back, so its cap is the delay a recovery can add:
    // with 10 s, a produce asleep in its retrier held every reply (and, through conversation order, every next
    // turn) for 9 s after a restarted broker answered again (test/faults/kafka-restart). ~15 s in all before an
    // operation gives up to its caller, who waits out longer outages (the worker's effects retry).
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2_000 },
    logLevel: KafkaLogLevel.WARN,
  };
  const log = opts.log;
  if (log) {
    config.logCreator = () => (entry: LogEntry) => {
      const { message, ...rest } = entry.log;
      const fields = { component: "kafkajs", namespace: entry.namespace, ...rest };
      if (entry.level <= KafkaLogLevel.ERROR) log.error(fields, message);
      else if (entry.level === KafkaLogLevel.WARN) log.warn(fields, message);
      else log.info(fields, message);
    };
  }
  return new Kafka(config);
}

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor?: number;
}

/** Creates the topics that don't exist yet (existing ones are left as they are) and waits for their leaders. */
export async function ensureTopics(kafka: Kafka, topics: TopicSpec[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        replicationFactor: t.replicationFactor ?? 1,
      })),
    });
    return missing.map((t) => t.name);
  } catch (err) {
    // Two replicas starting together race to create the same topic; the loser's error is harmless.
    if ((err as { type?: string }).type === "TOPIC_ALREADY_EXISTS") return [];
    throw err;
  } finally {
    await admin.disconnect();
  }
}

export interface PartitionLag {
  topic: string;
  partition: number;
  highWatermark: string;
  committed: string;
  lag: number;
}

/** Lag per partition: high watermark minus the group's committed offset (the whole partition when none). */
export async function readLag(admin: Admin, groupId: string, topic: string): Promise<PartitionLag[]> {
  const [high, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const committedBy = new Map<number, string>();
  for (const t of committed) for (const p of t.partitions) committedBy.set(p.partition, p.offset);
  return high.map((p) => {
    const c = committedBy.get(p.partition) ?? "-1";
    const start = Number(c) >= 0 ? Number(c) : Number(p.low);
    return {
      topic,
      partition: p.partition,
      highWatermark: p.high,
      committed: c,
      lag: Math.max(0, Number(p.high) - start),
    };
  });
}
