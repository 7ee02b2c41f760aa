import { promisify } from "node:util";
import { zstdCompress, zstdDecompress } from "node:zlib";
import kafkajs, { CompressionTypes } from "kafkajs";
import SnappyCodec from "kafkajs-snappy";

// kafkajs is CommonJS; Node's named-export detection misses this one, so it is read off the default export.
const { CompressionCodecs } = kafkajs;

import { compressFrame, decompressFrame } from "lz4-napi";

/**
 * The four codecs Kafka defines. kafkajs 2.2.4 ships gzip only and throws KafkaJSNotImplemented for the others,
 * which every Java and librdkafka producer with `compression.type` set sends. Chosen by measurement
 * (packages/kafka/bench/codec-candidates.ts):
 * - snappy: kafkajs-snappy (snappyjs, pure JS), which reads the xerial framing Java and librdkafka write.
 * - lz4: lz4-napi's frame functions (Kafka's record batches use the LZ4 frame format).
 * - zstd: node:zlib, built into Node 24.
 */
export const COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

const TYPE_OF: Record<Compression, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

export function compressionType(c: Compression): CompressionTypes {
  return TYPE_OF[c];
}

/** kafkajs's codec shape: compress gets its Encoder (the records' bytes in `.buffer`), decompress a Buffer. */
export interface KafkaCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const zstdCompressAsync = promisify(zstdCompress);
const zstdDecompressAsync = promisify(zstdDecompress);

export const lz4Codec = (): KafkaCodec => ({
  compress: (encoder) => compressFrame(encoder.buffer),
  decompress: (buffer) => decompressFrame(buffer),
});

export const zstdCodec = (): KafkaCodec => ({
  compress: (encoder) => zstdCompressAsync(encoder.buffer),
  // zlib's default 16 KiB output chunk costs one thread-pool round trip each: a 256 KiB batch of chat JSON
  // decompressed at 130 MB/s with it and ~550 MB/s with chunks sized to the expected output (bench/codec-candidates).
  decompress: (buffer) => zstdDecompressAsync(buffer, { chunkSize: outputChunkFor(buffer.length) }),
});

/** Chat JSON compresses ~4-9x; a chunk of 8x the input (16 KiB..1 MiB) usually holds the whole output. */
function outputChunkFor(compressedBytes: number): number {
  return Math.min(1024 * 1024, Math.max(16 * 1024, compressedBytes * 8));
}

export const snappyCodec = (): KafkaCodec => SnappyCodec();

let registered = false;

/** Idempotent; runs when the package is imported, so every kafkajs client made through it reads all four. */
export function registerCodecs(): void {
  if (registered) return;
  const codecs = CompressionCodecs as Record<number, () => KafkaCodec>;
  codecs[CompressionTypes.Snappy] = snappyCodec;
  codecs[CompressionTypes.LZ4] = lz4Codec;
  codecs[CompressionTypes.ZSTD] = zstdCodec;
  registered = true;
}
