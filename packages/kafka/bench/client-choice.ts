// kafkajs 2.2.4 (+ chatq's codecs and patch) against @platformatic/kafka 2.12.1, on this machine's broker:
//   1. consume throughput: 100k ~1 kB chat JSON messages on 6 partitions, per codec, one consumer in a fresh group;
//   2. time for a group of 3 to settle after the third member joins (every partition owned exactly once);
//   3. what each client's decoder does with a corrupt batch between two good ones.
// Hold the load lock:  flock /tmp/chatq-load.lock ./node_modules/.bin/node packages/kafka/bench/client-choice.ts
// Options: --messages N (100000), --codecs none,gzip,... (all), --settle-runs N (3).
import { parseArgs } from "node:util";
import { Consumer, Reader, readRecordsBatches } from "@platformatic/kafka";
import { COMPRESSIONS, type Compression, createBatchConsumer, ensureTopics } from "../src/index.ts";
import { Decoder, decodeMessages } from "../src/kafkajs-internals.ts";
import { corruptBatchBetweenGoodOnes } from "./corrupt-batch.ts";
import { benchKafka, brokers, bytesOnDisk, consumeWithKafkajs, fillTopic } from "./topic-io.ts";

const { values: args } = parseArgs({
  options: {
    messages: { type: "string", default: "100000" },
    codecs: { type: "string", default: COMPRESSIONS.join(",") },
    "settle-runs": { type: "string", default: "3" },
  },
});
const N = Number(args.messages);
const codecs = (args.codecs ?? "").split(",") as Compression[];
const PARTITIONS = 6;
const run = Date.now().toString(36);
const kafka = benchKafka("bench-client-choice");
const admin = kafka.admin();
await admin.connect();
const created: string[] = [];

function platformaticConsumer(groupId: string) {
  return new Consumer({
    groupId,
    clientId: `bench-${groupId}`,
    bootstrapBrokers: brokers,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxBytes: 1024 * 1024,
    maxBytesPerPartition: 256 * 1024,
  });
}

async function consumePlatformatic(topic: string): Promise<number> {
  const consumer = platformaticConsumer(`bench-platformatic-${topic}-${Math.random().toString(36).slice(2)}`);
  const stream = await consumer.consume({ topics: [topic], mode: "earliest", autocommit: false });
  let seen = 0;
  let t0 = 0;
  const ms = await new Promise<number>((resolve, reject) => {
    stream.on("error", reject);
    stream.on("data", () => {
      if (seen === 0) t0 = performance.now();
      seen += 1;
      if (seen === N) resolve(performance.now() - t0);
    });
  });
  await stream.close();
  await consumer.close(true);
  return ms;
}

/** Three members; time from the third one's start until every partition is owned by exactly one member. */
async function settle(
  client: "kafkajs" | "platformatic",
  topic: string,
  maxWaitTimeMs?: number,
): Promise<number> {
  const groupId = `bench-settle-${client}-${Math.random().toString(36).slice(2)}`;
  const owned = new Map<number, number[]>();
  const settled = () => {
    const all = [...owned.values()].flat();
    return owned.size === 3 && all.length === PARTITIONS && new Set(all).size === PARTITIONS;
  };
  let onChange: () => void = () => {};
  const closers: (() => Promise<unknown>)[] = [];
  const start = async (member: number) => {
    if (client === "kafkajs") {
      const c = createBatchConsumer(kafka, {
        groupId,
        topic,
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 1_000,
        ...(maxWaitTimeMs !== undefined && { maxWaitTimeMs }),
      });
      c.onAssignment((partitions) => {
        owned.set(member, partitions);
        onChange();
      });
      closers.push(() => c.disconnect());
      await c.start(() => {});
      await c.joined();
    } else {
      const c = platformaticConsumer(groupId);
      const joined = new Promise<void>((resolve) => {
        c.on(
          "consumer:group:join",
          (e: { assignments: { topic: string; partitions: number[] }[] | null }) => {
            owned.set(member, e.assignments?.find((a) => a.topic === topic)?.partitions ?? []);
            onChange();
            resolve();
          },
        );
      });
      const stream = await c.consume({ topics: [topic], mode: "latest", autocommit: false });
      stream.on("data", () => {});
      closers.push(async () => {
        await stream.close();
        await c.close(true);
      });
      await joined;
    }
  };
  await start(0);
  await start(1);
  await new Promise<void>((resolve) => {
    onChange = () => owned.size === 2 && [...owned.values()].flat().length === PARTITIONS && resolve();
    onChange();
  });
  const t0 = performance.now();
  const done = new Promise<number>((resolve) => {
    onChange = () => settled() && resolve(performance.now() - t0);
  });
  await start(2);
  onChange();
  const ms = await done;
  for (const close of closers.reverse()) await close();
  return ms;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en");
console.log(
  `consume ${fmt(N)} messages of ~1 kB on ${PARTITIONS} partitions (one consumer, fresh group; median of 3)`,
);
console.log("codec   produce msg/s (kafkajs)   on disk MB (raw MB)   kafkajs msg/s   platformatic msg/s");
for (const codec of codecs) {
  const topic = `bench-clients-${codec}-${run}`;
  created.push(topic);
  const { produceMs, rawBytes } = await fillTopic(kafka, topic, {
    partitions: PARTITIONS,
    count: N,
    bytes: 1000,
    compression: codec,
  });
  const bytes = bytesOnDisk(topic, PARTITIONS);
  // Alternating, three reads each, the median: one read is at the mercy of whatever else runs on 2 cores.
  const kjRuns: number[] = [];
  const pfRuns: number[] = [];
  for (let i = 0; i < 3; i++) {
    kjRuns.push(await consumeWithKafkajs(kafka, topic, N));
    pfRuns.push(await consumePlatformatic(topic));
  }
  const kj = median(kjRuns);
  const pf = median(pfRuns);
  console.log(
    `${codec.padEnd(7)} ${fmt(N / (produceMs / 1000)).padStart(23)}   ${bytes === undefined ? "n/a".padStart(10) : (bytes / 1e6).toFixed(1).padStart(10)} (${(rawBytes / 1e6).toFixed(1)})   ${fmt(N / (kj / 1000)).padStart(13)}   ${fmt(N / (pf / 1000)).padStart(18)}`,
  );
}

const settleTopic = `bench-settle-${run}`;
await ensureTopics(kafka, [{ name: settleTopic, partitions: PARTITIONS }]);
created.push(settleTopic);
for (const [client, label, maxWait] of [
  ["kafkajs", "kafkajs, maxWaitTime 5,000 ms (its default)", 5_000],
  ["kafkajs", "kafkajs, maxWaitTime 1,000 ms", 1_000],
  ["platformatic", "platformatic (defaults)", undefined],
] as const) {
  const runs: number[] = [];
  for (let i = 0; i < Number(args["settle-runs"]); i++) runs.push(await settle(client, settleTopic, maxWait));
  console.log(`group of 3 settles after a join, ${label}: ${runs.map((ms) => `${fmt(ms)} ms`).join(", ")}`);
}

// The same bytes to both decoders: a good batch, a corrupt zstd batch, a good batch.
const records = await corruptBatchBetweenGoodOnes();
try {
  const messages = await decodeMessages(new Decoder(withSize(records)));
  const marks = messages.map((m) =>
    m.undecodable ? `[${m.offset}..${m.undecodable.lastOffset} undecodable]` : m.offset,
  );
  console.log(`corrupt batch, kafkajs (patched): ${marks.join(" ")}`);
} catch (err) {
  console.log(`corrupt batch, kafkajs (patched): throws ${(err as Error).message}`);
}
try {
  const batches = readRecordsBatches(Reader.from(records));
  console.log(`corrupt batch, platformatic: decoded ${batches.length} batches`);
} catch (err) {
  console.log(
    `corrupt batch, platformatic: throws ${(err as Error).name}: ${(err as Error).message.slice(0, 120)} (the whole fetch response fails)`,
  );
}

await admin.deleteTopics({ topics: created });
await admin.disconnect();

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
}

function withSize(b: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(b.length);
  return Buffer.concat([size, b]);
}
