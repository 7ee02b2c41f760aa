// Which codec chatq's producer should use by default (KAFKA_COMPRESSION): replies are 0.5-2 kB of JSON. Per codec
// and size, produce N through chatq's producer (500 per send, as the worker's effects batch), read them back with
// chatq's batch consumer, and weigh the topic on the broker's disk.
// Hold the load lock:  flock /tmp/chatq-load.lock ./node_modules/.bin/node packages/kafka/bench/producer-codecs.ts
import { parseArgs } from "node:util";
import { COMPRESSIONS, type Compression } from "../src/index.ts";
import { benchKafka, bytesOnDisk, consumeWithKafkajs, fillTopic } from "./topic-io.ts";

const { values: args } = parseArgs({
  options: {
    messages: { type: "string", default: "20000" },
    sizes: { type: "string", default: "500,1000,2000" },
    codecs: { type: "string", default: COMPRESSIONS.join(",") },
  },
});
const N = Number(args.messages);
const PARTITIONS = 3;
const run = Date.now().toString(36);
const kafka = benchKafka("bench-producer-codecs");
const admin = kafka.admin();
await admin.connect();
const fmt = (n: number) => Math.round(n).toLocaleString("en");

console.log(`${fmt(N)} messages per run, ${PARTITIONS} partitions`);
console.log("size B  codec   produce msg/s   consume msg/s   produce+consume msg/s   on disk MB   of raw");
for (const size of (args.sizes ?? "").split(",").map(Number)) {
  for (const codec of (args.codecs ?? "").split(",") as Compression[]) {
    const topic = `bench-producer-${codec}-${size}-${run}`;
    const { produceMs, rawBytes } = await fillTopic(kafka, topic, {
      partitions: PARTITIONS,
      count: N,
      bytes: size,
      compression: codec,
    });
    const consumeMs = await consumeWithKafkajs(kafka, topic, N);
    const bytes = bytesOnDisk(topic, PARTITIONS);
    await admin.deleteTopics({ topics: [topic] });
    console.log(
      `${String(size).padStart(6)}  ${codec.padEnd(7)} ${fmt(N / (produceMs / 1000)).padStart(13)}   ${fmt(N / (consumeMs / 1000)).padStart(13)}   ${fmt(N / ((produceMs + consumeMs) / 1000)).padStart(21)}   ${bytes === undefined ? "n/a".padStart(10) : (bytes / 1e6).toFixed(2).padStart(10)}   ${bytes === undefined ? "" : `${((100 * bytes) / rawBytes).toFixed(0)}%`}`,
    );
  }
}
await admin.disconnect();
