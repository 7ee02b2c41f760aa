import { createRequire } from "node:module";

/**
 * kafkajs's record-batch decoder and byte Decoder are not part of its public API; chatq's patch
 * (patches/kafkajs@2.2.4.patch) changes the first, and tests and benchmarks drive it directly. Only tests,
 * tools and benchmarks import this module.
 */
const require = createRequire(import.meta.url);

export interface DecodedRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
  undecodable?: { lastOffset: string; reason: string };
}
export interface ByteDecoder {
  offset: number;
  buffer: Buffer;
}

export const RecordBatchDecoder = require("kafkajs/src/protocol/recordBatch/v0/decoder.js") as (
  decoder: ByteDecoder,
) => Promise<{
  firstOffset: string;
  lastOffsetDelta: number;
  records: DecodedRecord[];
  undecodable?: unknown;
}>;
export const Decoder = require("kafkajs/src/protocol/decoder.js") as new (buffer: Buffer) => ByteDecoder;
/** One partition's record set, as the Fetch v4+ responses carry it. */
export const decodeMessages = require("kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js") as (
  decoder: ByteDecoder,
) => Promise<DecodedRecord[]>;
export const FetchV11Response = require("kafkajs/src/protocol/requests/fetch/v11/response.js") as {
  decode(raw: Buffer): Promise<{
    responses: { topicName: string; partitions: { partition: number; messages: DecodedRecord[] }[] }[];
  }>;
};
export const Batch = require("kafkajs/src/consumer/batch.js") as new (
  topic: string,
  fetchedOffset: string,
  partitionData: {
    partition: number;
    highWatermark: string;
    messages: DecodedRecord[];
    abortedTransactions: [];
  },
) => { messages: DecodedRecord[]; lastOffset(): string; isEmpty(): boolean; firstOffset(): string | null };

export interface ByteEncoder {
  buffer: Buffer;
  writeInt8(v: number): ByteEncoder;
  writeInt16(v: number): ByteEncoder;
  writeInt32(v: number): ByteEncoder;
  writeInt64(v: number | string): ByteEncoder;
  writeString(v: string): ByteEncoder;
  writeBytes(v: Buffer): ByteEncoder;
  writeBuffer(v: Buffer): ByteEncoder;
}
export const Encoder = require("kafkajs/src/protocol/encoder.js") as new () => ByteEncoder;
export const { RecordBatch: encodeRecordBatch } = require("kafkajs/src/protocol/recordBatch/v0/index.js") as {
  RecordBatch(opts: {
    compression?: number;
    firstOffset?: unknown;
    lastOffsetDelta?: number;
    records: unknown[];
  }): Promise<ByteEncoder>;
};
export const encodeRecord = require("kafkajs/src/protocol/recordBatch/record/v0/index.js") as (r: {
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer>;
}) => unknown;
export const Long = require("kafkajs/src/utils/long.js") as { fromValue(v: number | string): unknown };
export const RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as new (opts: {
  maxInFlightRequests: number | null;
  requestTimeout: number;
  enforceRequestTimeout: boolean;
  clientId: string;
  broker: string;
  logger: { debug(...a: unknown[]): void; warn(...a: unknown[]): void };
}) => {
  throttleCheckTimeoutId: unknown;
  throttledUntil: number;
  pending: unknown[];
  maybeThrottle(ms: number): void;
  checkPendingRequests(): void;
  push(r: {
    entry: { correlationId: number; resolve(): void; reject(): void };
    expectResponse: boolean;
    sendRequest(): void;
  }): void;
  destroy(): void;
};

interface ConsumerGroupLike {
  logger: { info(...a: unknown[]): void };
  subscriptionState: { resume(tp: unknown[]): void };
}
export const ConsumerGroup = require("kafkajs/src/consumer/consumerGroup.js") as {
  prototype: {
    sleepUntilResumed(this: ConsumerGroupLike, ms: number): Promise<void>;
    resume(this: ConsumerGroupLike, topicPartitions: unknown[]): void;
  };
};

/** Where a v2 record batch's records start (after its 61-byte header): what a compressed batch compresses. */
export const RECORDS_AT = 61;

/** One v2 record batch with these values at offsets firstOffset…, keyed k<offset>, as kafkajs would send it. */
export async function recordBatchBytes(
  firstOffset: number,
  values: string[],
  compression = 0,
): Promise<Buffer> {
  const records = values.map((v, i) =>
    encodeRecord({ offsetDelta: i, key: Buffer.from(`k${firstOffset + i}`), value: Buffer.from(v) }),
  );
  const encoded = await encodeRecordBatch({
    compression,
    firstOffset: Long.fromValue(firstOffset),
    lastOffsetDelta: values.length - 1,
    records,
  });
  return Buffer.from(encoded.buffer);
}

/** The batch with its compressed bytes overwritten past their first 8 (kafkajs checks no CRC: it decodes this). */
export function overwriteCompressedBytes(batch: Buffer): Buffer {
  for (let i = RECORDS_AT + 8; i < batch.length - 2; i++) batch[i] = 0xa5;
  return batch;
}
