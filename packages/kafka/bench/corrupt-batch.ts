import { CompressionTypes } from "kafkajs";
import { registerCodecs } from "../src/codecs.ts";
import { encodeRecord, encodeRecordBatch, Long } from "../src/kafkajs-internals.ts";

registerCodecs();
const RECORDS_AT = 61;

async function batch(firstOffset: number, values: string[], compression: number): Promise<Buffer> {
  const records = values.map((v, i) => encodeRecord({ offsetDelta: i, key: null, value: Buffer.from(v) }));
  const encoded = await encodeRecordBatch({
    compression,
    firstOffset: Long.fromValue(firstOffset),
    lastOffsetDelta: values.length - 1,
    records,
  });
  return Buffer.from(encoded.buffer);
}

/** Offsets 0-1 plain, 2-4 zstd with its compressed bytes overwritten, 5-6 zstd: a partition's record set. */
export async function corruptBatchBetweenGoodOnes(): Promise<Buffer> {
  const bad = await batch(2, ["c".repeat(300), "d".repeat(300), "e".repeat(300)], CompressionTypes.ZSTD);
  for (let i = RECORDS_AT + 8; i < bad.length - 2; i++) bad[i] = 0xa5;
  return Buffer.concat([
    await batch(0, ["a", "b"], CompressionTypes.None),
    bad,
    await batch(5, ["f", "g"], CompressionTypes.ZSTD),
  ]);
}
