import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { describeRun, expectEveryRequestCompletedOnce, runFault } from "./fault-run.ts";

// README "Idempotency" documents the one window where a crash repeats API calls, with the figure measured under
// a 300-call load. The test reads that figure from the README, so the claim and its check cannot drift apart.
const readme = readFileSync(resolve(import.meta.dirname, "../../README.md"), "utf8");
const documented = /under a (\d+)-call load a SIGKILL\s+repeated (\d+)–(\d+) calls/.exec(readme);

describe("the worker SIGKILLed under ~300 concurrent API calls and started again", () => {
  it("every request is answered completed once; repeated API calls stay within the README's bound", async () => {
    expect(
      documented,
      "README Idempotency no longer states the SIGKILL figure this test checks",
    ).not.toBeNull();
    const [, load, , upper] = documented as RegExpExecArray;
    const concurrency = Number(load);
    const result = await runFault({
      label: "fault_sigkill",
      requests: 1500,
      conversations: 750, // a conversation runs one turn at a time: the concurrency needs this many
      ratePerSecond: 300,
      fakeOptions: { latencyMs: 1000, jitterMs: 300 },
      workerEnv: { WORKER_MAX_IN_FLIGHT: String(concurrency) },
      faultAfterCompletions: 300,
      // Killed while the API holds (nearly) the full load of calls.
      faultWhen: (fake) => fake.stats().in_flight >= concurrency * 0.85,
      fault: async ({ fake, replaceWorker }) => {
        const open = fake.stats().in_flight;
        await replaceWorker("SIGKILL");
        console.log(`[fault worker-sigkill] killed with ${open} calls open at the API`);
      },
    });
    console.log(describeRun("worker-sigkill", result));
    expectEveryRequestCompletedOnce(result, { maxRepeatedApiCalls: Number(upper) });
  }, 150_000);
});
