import { afterAll, beforeAll, describe, it } from "vitest";
import { type PrivateKafka, startPrivateKafka } from "../harness/private-kafka.ts";
import { describeRun, expectEveryRequestCompletedOnce, runFault } from "./fault-run.ts";

const OUTAGE_MS = 10_000;

describe("Kafka stopped for 10 s under load and started again", () => {
  let kafka: PrivateKafka;
  beforeAll(async () => {
    kafka = await startPrivateKafka();
  });
  afterAll(async () => {
    await kafka?.close();
  });

  it("every request is answered completed exactly once, nothing is lost, the worker lives through it", async () => {
    const result = await runFault({
      label: "fault_kafka",
      kafka,
      fault: async () => {
        await kafka.stop("term");
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        await kafka.start();
      },
    });
    console.log(describeRun("kafka-restart", result));
    expectEveryRequestCompletedOnce(result);
  }, 150_000);
});
