import { existsSync } from "node:fs";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PrivateKafka, startPrivateKafka } from "./harness/private-kafka.ts";

// The harness fault tests rely on: a broker of the test's own that can be stopped and started again on the same
// port without losing what was written to it.

describe("a private Kafka broker", () => {
  let broker: PrivateKafka;
  beforeAll(async () => {
    broker = await startPrivateKafka();
  });
  afterAll(async () => {
    await broker?.close();
  });

  const client = () =>
    new Kafka({ brokers: broker.brokers, clientId: "private-kafka-test", logLevel: logLevel.NOTHING });

  async function readAll(topic: string, expected: number): Promise<string[]> {
    const consumer = client().consumer({ groupId: `reader-${Math.random()}`, sessionTimeout: 10_000 });
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const all = new Promise<void>((done) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value?.toString() ?? "");
          if (seen.length >= expected) done();
        },
      });
    });
    await all;
    await consumer.disconnect();
    return seen.sort();
  }

  it("keeps its port and its data through a clean stop and through a kill", async () => {
    const admin = client().admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: "kept", numPartitions: 3 }] });
    await admin.disconnect();
    const producer = client().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: "kept", messages: [{ key: "a", value: "before" }] });
    await producer.disconnect();

    await broker.stop("term");
    // Down means down: nothing answers on its port.
    const down = client().admin({ retry: { retries: 0 } });
    await expect(down.connect()).rejects.toThrow();
    await broker.start();

    const again = client().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await again.connect();
    await again.send({ topic: "kept", messages: [{ key: "b", value: "after-term" }] });
    await again.disconnect();

    await broker.restart("kill");
    expect(await readAll("kept", 2)).toEqual(["after-term", "before"]);
  });

  it("fails to start with the reason and the log tail, and leaves no process or data behind", async () => {
    const started = startPrivateKafka({
      properties: { "num.io.threads": "not-a-number" },
      startTimeoutMs: 30_000,
    });
    const err = (await started.catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /private Kafka on 127\.0\.0\.1:\d+ exited during start-up[\s\S]*num\.io\.threads/,
    );
    const home = /(\S*chatq-private-kafka-[^/\s]+)\/logs/.exec(err.message)?.[1];
    expect(home).toBeDefined();
    expect(existsSync(home as string)).toBe(false);
  });

  it("close() stops the broker and deletes its data", async () => {
    const other = await startPrivateKafka();
    await other.close();
    expect(existsSync(other.dataDir)).toBe(false);
    const admin = new Kafka({
      brokers: other.brokers,
      clientId: "closed",
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    }).admin();
    await expect(admin.connect()).rejects.toThrow();
  });
});
