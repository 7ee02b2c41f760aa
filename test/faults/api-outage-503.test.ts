import { describe, it } from "vitest";
import { describeRun, expectEveryRequestCompletedOnce, runFault } from "./fault-run.ts";

// The acceptance test for outages of the API itself: 10 s of 503 (OpenAI's server_error body, no retry-after)
// must be waited out like any other outage, not spend every request's attempts and fail it for good.

describe("the API answering 503 for 10 s under load", () => {
  it("every request is answered completed exactly once, nothing is lost, the worker lives through it", async () => {
    const result = await runFault({
      label: "fault_api_503",
      fault: async ({ fake }) => {
        fake.configure({ outage: { kind: "server_error", status: 503 } });
        await new Promise((r) => setTimeout(r, 10_000));
        fake.configure({ outage: null });
      },
    });
    console.log(describeRun("api-outage-503", result));
    expectEveryRequestCompletedOnce(result);
  }, 150_000);
});
