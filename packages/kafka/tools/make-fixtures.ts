// Re-creates fixtures/*.batch: three records written by kcat (librdkafka) and by Kafka's Java console producer
// with each codec, copied verbatim from the broker's segment file (a topic with compression.type `producer` keeps
// a producer's batch as it was sent). Needs the local stack, kcat and the Kafka jars.
//   ./node_modules/.bin/node packages/kafka/tools/make-fixtures.ts
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createKafka, ensureTopics } from "../src/index.ts";

const brokers = process.env.KAFKA_BROKERS ?? "127.0.0.1:9092";
const dataDir = process.env.KAFKA_DATA_DIR ?? join(homedir(), ".local/state/chatq/kafka/data");
const jars = process.env.KAFKA_JARS ?? join(homedir(), ".cache/chatq/kafka-3.9.1/jars");
const out = join(import.meta.dirname, "../fixtures");
export const FIXTURE_LINES = [
  'k1:{"request_id":"r-1","messages":[{"role":"user","content":"one"}]}',
  'k2:{"request_id":"r-2","messages":[{"role":"user","content":"two"}]}',
  'k3:{"request_id":"r-3","messages":[{"role":"user","content":"three"}]}',
];

const kafka = createKafka({ brokers: [brokers], clientId: "make-fixtures" });
const run = Date.now().toString(36);
for (const codec of ["gzip", "snappy", "lz4", "zstd"]) {
  for (const producer of ["kcat", "java"]) {
    const topic = `fixture-${producer}-${codec}-${run}`;
    await ensureTopics(kafka, [{ name: topic, partitions: 1 }]);
    const input = `${FIXTURE_LINES.join("\n")}\n`;
    if (producer === "kcat") {
      execFileSync(
        "kcat",
        ["-P", "-b", brokers, "-t", topic, "-K:", "-H", "origin=kcat", "-z", codec, "-X", "linger.ms=200"],
        { input },
      );
    } else {
      execFileSync(
        "java",
        [
          "-cp",
          `${jars}/*`,
          "-Dlog4j.configuration=file:/dev/null",
          "kafka.tools.ConsoleProducer",
          "--bootstrap-server",
          brokers,
          "--topic",
          topic,
          "--compression-codec",
          codec,
          "--property",
          "parse.key=true",
          "--property",
          "key.separator=:",
          "--producer-property",
          "linger.ms=200",
        ],
        { input, stdio: ["pipe", "ignore", "ignore"] },
      );
    }
    const segment = join(dataDir, `${topic}-0`, "00000000000000000000.log");
    while (!existsSync(segment) || statSync(segment).size === 0) await sleep(100);
    const file = join(out, `${producer}-${codec}.batch`);
    copyFileSync(segment, file);
    console.log(`${file}: ${statSync(file).size} bytes`);
  }
}
