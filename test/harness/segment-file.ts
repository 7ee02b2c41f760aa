import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// A Kafka log segment is record batches back to back, each exactly as a producer sent it:
//   baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8, crc uint32, attributes int16,
//   lastOffsetDelta int32, ... 61 bytes of header in all, then the (compressed) records.
const LENGTH_AT = 8;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const RECORDS_AT = 61;

export interface SegmentBatch {
  baseOffset: number;
  lastOffset: number;
  codec: number;
  /** Where the batch starts in the file. */
  at: number;
  bytes: number;
}

export function readBatches(file: string): SegmentBatch[] {
  const b = readFileSync(file);
  const out: SegmentBatch[] = [];
  for (let at = 0; at + RECORDS_AT <= b.length; ) {
    const bytes = 12 + b.readInt32BE(at + LENGTH_AT);
    const baseOffset = Number(b.readBigInt64BE(at));
    out.push({
      baseOffset,
      lastOffset: baseOffset + b.readInt32BE(at + LAST_OFFSET_DELTA_AT),
      codec: b.readInt16BE(at + ATTRIBUTES_AT) & 0x07,
      at,
      bytes,
    });
    at += bytes;
  }
  return out;
}

/** The segment files of one partition under a broker's log.dirs, oldest first. */
export function segmentsOf(logDir: string, topic: string, partition: number): string[] {
  const dir = join(logDir, `${topic}-${partition}`);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".log"))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Overwrites the first bytes of a compressed batch's records (the codec's frame header) so that no decompressor
 * accepts them, leaving the batch's own header, length and offsets intact. Kafka serves segment bytes as they are
 * (zero-copy) and kafkajs checks no CRC: the client gets exactly this batch. The broker must be stopped.
 */
export function corruptCompressedBatch(file: string, baseOffset: number): SegmentBatch {
  const batch = readBatches(file).find((x) => x.baseOffset === baseOffset);
  if (!batch) throw new Error(`no batch at offset ${baseOffset} in ${file}`);
  if (batch.codec === 0) throw new Error(`the batch at offset ${baseOffset} is not compressed`);
  const b = readFileSync(file);
  b.fill(0xa5, batch.at + RECORDS_AT, Math.min(batch.at + batch.bytes, batch.at + RECORDS_AT + 16));
  writeFileSync(file, b);
  return batch;
}
