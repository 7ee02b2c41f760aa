import { expect, it } from "vitest";
import { InFlightRequests } from "./in-flight-requests.ts";

it("a second copy waits for the first and learns whether it completed", async () => {
  const inFlight = new InFlightRequests();
  expect(inFlight.claim("r1")).toBeUndefined();
  const second = inFlight.claim("r1");
  expect(second).toBeInstanceOf(Promise);
  inFlight.settle("r1", false);
  expect(await second).toBe(false);
  // Settled: the next copy owns it.
  expect(inFlight.claim("r1")).toBeUndefined();
  const third = inFlight.claim("r1");
  inFlight.settle("r1", true);
  expect(await third).toBe(true);
});
