import { expect, it } from "vitest";
import { PartitionLeases, PartitionRevoked } from "./partition-leases.ts";

it("a rebalance ends the leases of lost partitions only, and a regained partition gets a fresh lease", () => {
  const leases = new PartitionLeases();
  leases.assign([0, 1, 2]);
  const [s0, s1] = [leases.signal(0), leases.signal(1)];
  expect(leases.assign([0, 2, 3])).toEqual([1]);
  expect(s0.aborted).toBe(false);
  expect(s1.aborted).toBe(true);
  expect(s1.reason).toBeInstanceOf(PartitionRevoked);
  expect(leases.signal(5).aborted).toBe(true); // never ours
  leases.assign([0, 1, 2, 3]);
  expect(leases.signal(1).aborted).toBe(false);
  expect(s1.aborted).toBe(true); // jobs of the old period stay let go
});

it("at shutdown every lease ends with the stop's reason", () => {
  const leases = new PartitionLeases();
  leases.assign([0, 1]);
  const s = leases.signal(0);
  const reason = new Error("stopping");
  leases.endAll(reason);
  expect(s.reason).toBe(reason);
  expect(leases.signal(1).reason).toBe(reason);
});
