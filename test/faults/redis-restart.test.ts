import { afterAll, beforeAll, describe, it } from "vitest";
import { type PrivateRedis, startPrivateRedis } from "../harness/private-redis.ts";
import { describeRun, expectEveryRequestCompletedOnce, runFault } from "./fault-run.ts";

const OUTAGE_MS = 10_000;

describe("Redis stopped for 10 s under load and started again", () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it("every request is answered completed exactly once, nothing is lost, the worker lives through it", async () => {
    const result = await runFault({
      label: "fault_redis",
      redis,
      fault: async () => {
        await redis.stop("kill");
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        await redis.start();
      },
    });
    console.log(describeRun("redis-restart", result));
    expectEveryRequestCompletedOnce(result);
  }, 150_000);
});
