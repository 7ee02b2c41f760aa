import { type Kafka, Partitioners, type Producer } from "kafkajs";
import { type Compression, compressionType } from "./codecs.ts";

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

export interface RecordProducerOptions {
  /** The codec of every batch this producer sends (default none). */
  compression?: Compression;
  /**
   * Give up on a send after retrying for about this long (default: the client's retry policy). A caller that must
   * say "not sent" sets this instead of racing a timer: a send abandoned by a timer goes on retrying inside the
   * client and may land later, after its caller was told it failed, and then a retry of it is a second request.
   */
  giveUpAfterMs?: number;
}

/** kafkajs's retrier (doubling delays, capped per step) set to keep trying for about `ms`, then reject. */
export function retryFor(ms: number): { retries: number; initialRetryTime: number; maxRetryTime: number } {
  const maxRetryTime = Math.max(100, Math.min(1_000, Math.round(ms / 4)));
  const initialRetryTime = Math.min(100, maxRetryTime);
  let retries = 0;
  for (let waited = 0, step = initialRetryTime; waited < ms; retries++) {
    waited += step;
    step = Math.min(step * 2, maxRetryTime);
  }
  return { retries, initialRetryTime, maxRetryTime };
}

export async function createRecordProducer(
  kafka: Kafka,
  opts: RecordProducerOptions = {},
): Promise<RecordProducer> {
  const compression = compressionType(opts.compression ?? "none");
  const producer: Producer = kafka.producer({
    // Same key → same partition as the Java client and librdkafka (murmur2), so non-Node producers agree.
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    ...(opts.giveUpAfterMs !== undefined && { retry: retryFor(opts.giveUpAfterMs) }),
  });
  await producer.connect();
  return {
    async send(records) {
      // A broker refuses a partition's record batch above max.message.bytes (1 MiB by default): big records go in
      // requests of their own rather than sinking the records batched with them.
      for (const chunk of byBytes(records, MAX_REQUEST_BYTES)) await sendChunk(chunk);
    },
    disconnect: () => producer.disconnect(),
  };

  async function sendChunk(records: readonly OutRecord[]): Promise<void> {
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
      compression,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }
}

const MAX_REQUEST_BYTES = 512 * 1024;

function* byBytes(records: readonly OutRecord[], max: number): Generator<OutRecord[]> {
  let chunk: OutRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size =
      (typeof r.value === "string" ? Buffer.byteLength(r.value) : r.value.length) + (r.key?.length ?? 0);
    if (chunk.length > 0 && bytes + size > max) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(r);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

// Broker answers that no retry can change: the record (or its topic) is the problem, not the cluster.
const RECORD_REFUSALS = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "INVALID_TOPIC_EXCEPTION",
  "TOPIC_AUTHORIZATION_FAILED",
  // A reply_topic that is gone: a gateway replica's own reply topic, deleted when it stopped (services/gateway).
  // Waiting would hold the worker's batch for ever; the reply is stored, so it goes to the DLQ instead.
  "UNKNOWN_TOPIC_OR_PARTITION",
]);

/**
 * The broker's reason when a send failed because of what was sent (too large, a topic it may not write),
 * undefined when it looks like an outage and retrying is right. Looks through kafkajs's wrapping errors.
 */
export function refusalOf(err: unknown, depth = 0): string | undefined {
  if (typeof err !== "object" || err === null || depth > 5) return undefined;
  const e = err as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  if (typeof e.type === "string" && RECORD_REFUSALS.has(e.type)) return e.type;
  for (const inner of [e.cause, e.originalError, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const found = refusalOf(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}
