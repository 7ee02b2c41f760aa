import { describe, it } from "vitest";
import { describeRun, expectEveryRequestCompletedOnce, runFault } from "./fault-run.ts";

// The acceptance test for a key rotated under the worker: for 10 s every call, the /v1/models probe included,
// is 401 invalid_api_key. That is the account's fault, not any request's: they wait, and all complete.

describe("the API rejecting the key for 10 s under load", () => {
  it("every request is answered completed exactly once, nothing is lost, the worker lives through it", async () => {
    const result = await runFault({
      label: "fault_api_key",
      fault: async ({ fake }) => {
        fake.configure({ outage: { kind: "invalid_api_key" } });
        await new Promise((r) => setTimeout(r, 10_000));
        fake.configure({ outage: null });
      },
    });
    console.log(describeRun("api-key-rejected", result));
    expectEveryRequestCompletedOnce(result);
  }, 150_000);
});
