import { describe, it } from "vitest";
import { describeRun, expectEveryRequestCompletedOnce, runFault } from "./fault-run.ts";

// The API's address refusing connections for 10 s (its listener gone, open calls dropped): an outage like the
// 503 one, seen by the SDK as connection errors instead of answers.

describe("the API unreachable (connections refused) for 10 s under load", () => {
  it("every request is answered completed exactly once, nothing is lost, the worker lives through it", async () => {
    const result = await runFault({
      label: "fault_api_down",
      fault: async ({ fake }) => {
        fake.configure({ outage: { kind: "refuse_connections" } });
        await fake.settled();
        await new Promise((r) => setTimeout(r, 10_000));
        fake.configure({ outage: null });
        await fake.settled();
      },
    });
    console.log(describeRun("api-unreachable", result));
    expectEveryRequestCompletedOnce(result);
  }, 150_000);
});
