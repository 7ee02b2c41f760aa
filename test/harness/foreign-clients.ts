import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Kafka's jars as infra/local/stack-up.sh fetches them (Kafka's Java console producer is in the core jar). */
export const KAFKA_JARS =
  process.env.KAFKA_JARS ??
  join(process.env.CHATQ_CACHE_DIR ?? join(homedir(), ".cache/chatq"), "kafka-3.9.1/jars");

export type Codec = "gzip" | "snappy" | "lz4" | "zstd";

async function feed(cmd: string, args: string[], input: string): Promise<string> {
  const pending = run(cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  pending.child.stdin?.end(input);
  return (await pending).stdout;
}

/** librdkafka's producer (kcat): one line per message, `key<TAB>value`, in batches compressed with `codec`. */
export function kcatProduce(
  brokers: string[],
  topic: string,
  codec: Codec,
  lines: string[],
): Promise<string> {
  return feed(
    "kcat",
    ["-P", "-b", brokers.join(","), "-t", topic, "-K", "\t", "-z", codec, "-X", "linger.ms=50"],
    `${lines.join("\n")}\n`,
  );
}

/** Reads `count` messages of a topic from the beginning with kcat; returns their values. */
export async function kcatConsume(brokers: string[], topic: string, count: number): Promise<string[]> {
  const { stdout } = await run(
    "kcat",
    [
      "-C",
      "-b",
      brokers.join(","),
      "-t",
      topic,
      "-o",
      "beginning",
      "-c",
      String(count),
      "-e",
      "-q",
      "-f",
      "%s\\n",
    ],
    { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  return stdout.split("\n").filter((l) => l.length > 0);
}

/** Kafka's own Java console producer: `key<TAB>value` lines, batches compressed with `codec`. */
export function javaConsoleProduce(
  brokers: string[],
  topic: string,
  codec: Codec,
  lines: string[],
): Promise<string> {
  if (!existsSync(KAFKA_JARS))
    throw new Error(`no Kafka jars at ${KAFKA_JARS} (run infra/local/stack-up.sh)`);
  return feed(
    "java",
    [
      "-Xmx128m",
      "-XX:TieredStopAtLevel=1",
      "-cp",
      `${KAFKA_JARS}/*`,
      "-Dlog4j.configuration=file:/dev/null",
      "kafka.tools.ConsoleProducer",
      "--bootstrap-server",
      brokers.join(","),
      "--topic",
      topic,
      "--compression-codec",
      codec,
      "--property",
      "parse.key=true",
      "--property",
      "key.separator=\t",
      "--producer-property",
      "linger.ms=50",
    ],
    `${lines.join("\n")}\n`,
  );
}
