import { CompressionTypes } from "kafkajs";
import { registerCodecs } from "../src/codecs.ts";
import { overwriteCompressedBytes, recordBatchBytes } from "../src/kafkajs-internals.ts";

registerCodecs();
/** Offsets 0-1 plain, 2-4 zstd with its compressed bytes overwritten, 5-6 zstd: a partition's record set. */
export async function corruptBatchBetweenGoodOnes(): Promise<Buffer> {
  const bad = await recordBatchBytes(
    2,
    ["c".repeat(300), "d".repeat(300), "e".repeat(300)],
    CompressionTypes.ZSTD,
  );
  return Buffer.concat([
    await recordBatchBytes(0, ["a", "b"], CompressionTypes.None),
    overwriteCompressedBytes(bad),
    await recordBatchBytes(5, ["f", "g"], CompressionTypes.ZSTD),
  ]);
}
