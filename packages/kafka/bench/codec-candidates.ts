// Which library per codec: each candidate decodes the batches Java and librdkafka (kcat) wrote (fixtures/), and
// compresses + decompresses a 256 KiB batch of ~1 kB chat JSON. Prints a table; run with
//   ./node_modules/.bin/node packages/kafka/bench/codec-candidates.ts
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { zstdCompress, zstdDecompress } from "node:zlib";
import kafkajsSnappy from "kafkajs-snappy";
import { compressFrame, decompressFrame } from "lz4-napi";
import * as napiSnappy from "snappy";
import { zstdCodec } from "../src/codecs.ts";
import { chatJson } from "./sample-records.ts";

interface Candidate {
  codec: "snappy" | "lz4" | "zstd";
  name: string;
  compress(b: Buffer): Promise<Buffer>;
  decompress(b: Buffer): Promise<Buffer>;
}

// The xerial framing Java's snappy-java writes: a 16-byte header, then (int32 length, raw snappy block) pairs.
// Written here only to give the native `snappy` package a fair trial.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
async function napiSnappyXerial(b: Buffer): Promise<Buffer> {
  if (!b.subarray(0, 8).equals(XERIAL_MAGIC)) return (await napiSnappy.uncompress(b)) as Buffer;
  const blocks: Buffer[] = [];
  for (let at = 16; at + 4 <= b.length; ) {
    const len = b.readUInt32BE(at);
    blocks.push((await napiSnappy.uncompress(b.subarray(at + 4, at + 4 + len))) as Buffer);
    at += 4 + len;
  }
  return Buffer.concat(blocks);
}

const js = kafkajsSnappy();
const chatqZstd = zstdCodec();
const zc = promisify(zstdCompress);
const zd = promisify(zstdDecompress);
const candidates: Candidate[] = [
  {
    codec: "snappy",
    name: "kafkajs-snappy 1.1.0 (snappyjs)",
    compress: (b) => js.compress({ buffer: b }),
    decompress: (b) => js.decompress(b),
  },
  {
    codec: "snappy",
    name: "snappy 7.4.3 (napi) + xerial",
    compress: (b) => napiSnappy.compress(b),
    decompress: napiSnappyXerial,
  },
  {
    codec: "lz4",
    name: "lz4-napi 2.10.0 frame",
    compress: (b) => compressFrame(b),
    decompress: (b) => decompressFrame(b),
  },
  { codec: "zstd", name: "node:zlib zstd, default chunks", compress: (b) => zc(b), decompress: (b) => zd(b) },
  {
    codec: "zstd",
    name: "node:zlib zstd, chatq's chunks",
    compress: (b) => zc(b),
    decompress: (b) => chatqZstd.decompress(b),
  },
];

// A v2 record batch: 61 bytes of header, then the (compressed) records.
const RECORDS_AT = 61;
const fixtures = join(import.meta.dirname, "../fixtures");
const batch = Buffer.from(Array.from({ length: 256 }, (_, i) => chatJson(i, 1000)).join(""));
const ROUNDS = 40;

console.log(
  `codec   candidate                          fixtures (java, kcat)   ratio   compress MB/s   decompress MB/s`,
);
for (const c of candidates) {
  const checks: string[] = [];
  for (const file of readdirSync(fixtures)
    .filter((f) => f.endsWith(`-${c.codec}.batch`))
    .sort()) {
    try {
      const raw = await c.decompress(readFileSync(join(fixtures, file)).subarray(RECORDS_AT));
      checks.push(raw.includes("three") ? "ok" : "WRONG");
    } catch (err) {
      checks.push(`FAILED (${(err as Error).message.slice(0, 40)})`);
    }
  }
  const packed = await c.compress(batch);
  let t = performance.now();
  for (let i = 0; i < ROUNDS; i++) await c.compress(batch);
  const cMs = (performance.now() - t) / ROUNDS;
  t = performance.now();
  for (let i = 0; i < ROUNDS; i++) await c.decompress(packed);
  const dMs = (performance.now() - t) / ROUNDS;
  const mbs = (ms: number) => (batch.length / 1e6 / (ms / 1000)).toFixed(0);
  console.log(
    `${c.codec.padEnd(7)} ${c.name.padEnd(34)} ${checks.join(", ").padEnd(23)} ${(batch.length / packed.length).toFixed(2).padStart(5)}   ${mbs(cMs).padStart(13)}   ${mbs(dMs).padStart(15)}`,
  );
}
