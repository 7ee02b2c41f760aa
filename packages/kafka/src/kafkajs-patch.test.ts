import { promisify } from "node:util";
import { zstdCompress } from "node:zlib";
import { describe, expect, it, vi } from "vitest";
import { registerCodecs } from "./codecs.ts";
import {
  Batch,
  type ByteEncoder,
  ConsumerGroup,
  type DecodedRecord,
  Decoder,
  Encoder,
  encodeRecord,
  encodeRecordBatch,
  FetchV11Response,
  Long,
  overwriteCompressedBytes,
  RECORDS_AT,
  RecordBatchDecoder,
  RequestQueue,
  recordBatchBytes,
} from "./kafkajs-internals.ts";

// What patches/kafkajs@2.2.4.patch changes in kafkajs, driven through kafkajs's own decoders and encoders.
registerCodecs();

const NONE = 0;
const ZSTD = 4;
const ATTRIBUTES_AT = 21; // firstOffset 8 + length 4 + leaderEpoch 4 + magic 1 + crc 4

const batchBytes = recordBatchBytes;

/** A zstd batch whose compressed bytes are overwritten in the middle (kafkajs checks no CRC). */
async function corruptZstdBatch(firstOffset: number, values: string[]): Promise<Buffer> {
  return overwriteCompressedBytes(await batchBytes(firstOffset, values, ZSTD));
}

function withCodecId(b: Buffer, codecId: number): Buffer {
  const copy = Buffer.from(b);
  copy.writeInt16BE((copy.readInt16BE(ATTRIBUTES_AT) & ~0x07) | codecId, ATTRIBUTES_AT);
  return copy;
}

/** A Fetch v11 response: one topic, each partition with its record set. */
function fetchResponse(topic: string, partitions: { partition: number; records: Buffer }[]): Buffer {
  const e: ByteEncoder = new Encoder();
  e.writeInt32(0).writeInt16(0).writeInt32(0); // throttle_time_ms, error_code, session_id
  e.writeInt32(1).writeString(topic).writeInt32(partitions.length);
  for (const p of partitions) {
    e.writeInt32(p.partition).writeInt16(0).writeInt64(100).writeInt64(100).writeInt64(0);
    e.writeInt32(0); // aborted_transactions
    e.writeInt32(-1); // preferred_read_replica
    e.writeBytes(p.records);
  }
  return Buffer.from(e.buffer);
}

const offsets = (ms: DecodedRecord[]) =>
  ms.map((m) => (m.undecodable ? `${m.offset}..${m.undecodable.lastOffset}` : m.offset));

describe("kafkajs patch: a batch kafkajs cannot decode", () => {
  it("becomes one marker for its range between the good batches, and the other partitions decode", async () => {
    const records = Buffer.concat([
      await batchBytes(0, ["a", "b"]),
      await corruptZstdBatch(2, ["c".repeat(300), "d".repeat(300), "e".repeat(300)]),
      await batchBytes(5, ["f", "g"], ZSTD),
    ]);
    const other = await batchBytes(40, ["x"], ZSTD);
    const response = await FetchV11Response.decode(
      fetchResponse("chat.requests", [
        { partition: 0, records },
        { partition: 1, records: other },
      ]),
    );
    const [p0, p1] = response.responses[0]?.partitions ?? [];
    expect(offsets(p0?.messages ?? [])).toEqual(["0", "1", "2..4", "5", "6"]);
    expect(p0?.messages.map((m) => m.value?.toString()).filter((v) => v?.length === 1)).toEqual([
      "a",
      "b",
      "f",
      "g",
    ]);
    const marker = p0?.messages[2];
    expect(marker?.undecodable?.reason).toMatch(/\S/);
    expect(marker?.key).toBeNull();
    // The marker's value is the batch as it came, so it can be inspected or replayed elsewhere.
    expect(marker?.value?.readBigInt64BE(0)).toBe(2n);
    expect(offsets(p1?.messages ?? [])).toEqual(["40"]);
  });

  it("names an unknown codec id, a codec that fails, and records that do not parse", async () => {
    const good = await batchBytes(10, ["a", "b"]);
    const unknown = await RecordBatchDecoder(new Decoder(withCodecId(good, 6)));
    expect(unknown.records[0]?.undecodable).toEqual({
      lastOffset: "11",
      reason: "unknown compression codec: id 6",
    });

    const failing = await RecordBatchDecoder(new Decoder(await corruptZstdBatch(10, ["abc".repeat(100)])));
    expect(failing.records).toHaveLength(1);
    expect(failing.records[0]?.undecodable?.lastOffset).toBe("10");
    expect(failing.records[0]?.undecodable?.reason).toMatch(/^cannot decompress \(zstd\): /);

    // zstd bytes that decompress fine but hold no valid records.
    const garbage = Buffer.from(await promisify(zstdCompress)(Buffer.alloc(64, 0x7f)));
    const shell = await batchBytes(20, ["a", "b", "c"], ZSTD);
    const malformed = Buffer.concat([shell.subarray(0, RECORDS_AT), garbage]);
    malformed.writeInt32BE(malformed.length - 12, 8);
    const decoded = await RecordBatchDecoder(new Decoder(malformed));
    expect(decoded.records.map((r) => r.undecodable?.lastOffset)).toEqual(["22"]);
    expect(decoded.records[0]?.undecodable?.reason).toMatch(/^malformed records: /);
  });

  it("moves the batch's last offset past the whole range, also when the fetch starts inside it", async () => {
    const records = Buffer.concat([
      await corruptZstdBatch(2, ["c".repeat(300), "d".repeat(300), "e".repeat(300)]),
      await batchBytes(5, ["f"]),
    ]);
    const [p0] =
      (await FetchV11Response.decode(fetchResponse("t", [{ partition: 0, records }]))).responses[0]
        ?.partitions ?? [];
    const messages = p0?.messages ?? [];
    const endsAtMarker = new Batch("t", "2", {
      partition: 0,
      highWatermark: "6",
      messages: messages.slice(0, 1),
      abortedTransactions: [],
    });
    expect(endsAtMarker.lastOffset()).toBe("4");
    expect(endsAtMarker.isEmpty()).toBe(false);

    const fromInside = new Batch("t", "3", {
      partition: 0,
      highWatermark: "6",
      messages,
      abortedTransactions: [],
    });
    expect(offsets(fromInside.messages)).toEqual(["3..4", "5"]);
    expect(fromInside.lastOffset()).toBe("5");

    const pastIt = new Batch("t", "5", {
      partition: 0,
      highWatermark: "6",
      messages,
      abortedTransactions: [],
    });
    expect(offsets(pastIt.messages)).toEqual(["5"]);
  });
});

describe("kafkajs patch: record headers", () => {
  it("are read in one pass, however many there are, and a header named __proto__ is a header", async () => {
    // Each header costs a few bytes: a 1 MiB record can carry ~100k of them. kafkajs's spread-per-header reduce
    // was quadratic in that (minutes of a blocked fetch loop); this many finishes in milliseconds.
    const headers = Object.fromEntries([
      ["__proto__", Buffer.from("polluted?")],
      ...Array.from({ length: 50_000 }, (_, i) => [`h${i}`, Buffer.from("v")]),
    ]) as Record<string, Buffer>;
    const record = encodeRecord({ offsetDelta: 0, key: null, value: Buffer.from("x"), headers });
    const encoded = await encodeRecordBatch({
      compression: NONE,
      firstOffset: Long.fromValue(0),
      lastOffsetDelta: 0,
      records: [record],
    });
    const { records } = await RecordBatchDecoder(new Decoder(Buffer.from(encoded.buffer)));
    const got = records[0]?.headers ?? {};
    expect(Object.keys(got)).toHaveLength(50_001);
    expect(Object.hasOwn(got, "__proto__")).toBe(true);
    expect(String(Object.getOwnPropertyDescriptor(got, "__proto__")?.value)).toBe("polluted?");
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });
});

describe("kafkajs patch: the request queue (kafkajs #1751, #1704)", () => {
  const queue = () =>
    new RequestQueue({
      maxInFlightRequests: null,
      requestTimeout: 30_000,
      enforceRequestTimeout: false,
      clientId: "test",
      broker: "127.0.0.1:9092",
      logger: { debug: () => {}, warn: () => {} },
    });

  it("keeps no timer while nothing is pending, throttled or not", () => {
    const q = queue();
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.maybeThrottle(50);
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it("sends a request queued while throttled once the throttle ends", async () => {
    const q = queue();
    q.maybeThrottle(30);
    let sent = false;
    q.push({
      entry: { correlationId: 1, resolve: () => {}, reject: () => {} },
      expectResponse: false,
      sendRequest: () => (sent = true),
    });
    expect(sent).toBe(false);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (!sent) return;
        clearInterval(poll);
        resolve();
      }, 5);
    });
    expect(q.pending).toHaveLength(0);
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.destroy();
  });
});

describe("kafkajs patch: a fetch loop asleep because every partition is paused", () => {
  it("wakes up when the consumer resumes, not when its maxWaitTime runs out", async () => {
    // Fake timers: the 60 s sleep can only end through resume().
    vi.useFakeTimers();
    try {
      const group = { logger: { info: () => {} }, subscriptionState: { resume: () => {} } };
      let woke = false;
      const asleep = ConsumerGroup.prototype.sleepUntilResumed.call(group, 60_000).then(() => {
        woke = true;
      });
      await Promise.resolve();
      expect(woke).toBe(false);
      ConsumerGroup.prototype.resume.call(group, [{ topic: "t" }]);
      await asleep;
      expect(woke).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
