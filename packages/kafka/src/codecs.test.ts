import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMPRESSIONS, lz4Codec, registerCodecs, snappyCodec, zstdCodec } from "./codecs.ts";
import { Decoder, RecordBatchDecoder } from "./kafkajs-internals.ts";

registerCodecs();
const fixtures = join(import.meta.dirname, "../fixtures");

describe("codecs", () => {
  it.each([
    ["snappy", snappyCodec],
    ["lz4", lz4Codec],
    ["zstd", zstdCodec],
  ])("%s: what it compresses decompresses to the same bytes (property)", async (_name, make) => {
    const codec = make();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 70_000 }), async (bytes) => {
        const buffer = Buffer.from(bytes);
        expect((await codec.decompress(await codec.compress({ buffer }))).equals(buffer)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it("zstd decompresses outputs far larger than its first output chunk", async () => {
    const buffer = Buffer.alloc(3 * 1024 * 1024, "chat ");
    const codec = zstdCodec();
    expect((await codec.decompress(await codec.compress({ buffer }))).equals(buffer)).toBe(true);
  });

  it("names the four Kafka codecs and none", () => {
    expect(COMPRESSIONS).toEqual(["none", "gzip", "snappy", "lz4", "zstd"]);
  });

  // Batches written by librdkafka (kcat) and Kafka's Java producer, copied from a broker's segment file
  // (tools/make-fixtures.ts): each holds three records k1..k3.
  it.each(
    ["gzip", "snappy", "lz4", "zstd"].flatMap((codec) => [
      ["kcat", codec],
      ["java", codec],
    ]),
  )("decodes a %s batch compressed with %s", async (producer, codec) => {
    const batch = await RecordBatchDecoder(
      new Decoder(readFileSync(join(fixtures, `${producer}-${codec}.batch`))),
    );
    expect(batch.undecodable).toBeUndefined();
    expect(batch.records.map((r) => [r.offset, r.key?.toString()])).toEqual([
      ["0", "k1"],
      ["1", "k2"],
      ["2", "k3"],
    ]);
    const values = batch.records.map((r) => JSON.parse(r.value?.toString() ?? "null").messages[0].content);
    expect(values).toEqual(["one", "two", "three"]);
    if (producer === "kcat") expect(batch.records[0]?.headers.origin?.toString()).toBe("kcat");
  });
});
