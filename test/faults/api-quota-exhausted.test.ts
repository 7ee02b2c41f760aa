import { describe, it } from "vitest";
import { describeRun, expectEveryRequestCompletedOnce, runFault } from "./fault-run.ts";

// The acceptance test for an account out of credit for 10 s: every completion is 429 insufficient_quota while
// GET /v1/models, the probe, still answers (as OpenAI's does). Account-wide, not any request's fault: they wait.

describe("the account out of quota for 10 s under load (completions 429 insufficient_quota, /v1/models fine)", () => {
  it("every request is answered completed exactly once, nothing is lost, the worker lives through it", async () => {
    const result = await runFault({
      label: "fault_api_quota",
      fault: async ({ fake }) => {
        fake.configure({ outage: { kind: "insufficient_quota" } });
        await new Promise((r) => setTimeout(r, 10_000));
        fake.configure({ outage: null });
      },
    });
    console.log(describeRun("api-quota-exhausted", result));
    expectEveryRequestCompletedOnce(result);
  }, 150_000);
});
