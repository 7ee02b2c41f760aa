import { expect, it } from "vitest";
import { PartitionLeases, PartitionRevokedError } from "./partition-leases.ts";

it("aborts the lease of each partition a rebalance takes away, and only those", () => {
  const leases = new PartitionLeases();
  expect(leases.assign([0, 1, 2])).toEqual([]);
  const [zero, one, two] = [0, 1, 2].map((p) => leases.signal(p));
  expect(leases.assign([1, 2, 3])).toEqual([0]);
  expect(zero?.aborted).toBe(true);
  expect(zero?.reason).toBeInstanceOf(PartitionRevokedError);
  expect(zero?.reason).toMatchObject({ partition: 0 });
  // Kept through the rebalance: the same lease goes on.
  expect([one?.aborted, two?.aborted]).toEqual([false, false]);
  expect(leases.signal(1)).toBe(one);
  expect([leases.owns(0), leases.owns(3)]).toEqual([false, true]);
});

it("gives a partition regained later a new lease, and work of one not owned an aborted signal", () => {
  const leases = new PartitionLeases();
  leases.assign([0]);
  const first = leases.signal(0);
  leases.assign([]);
  expect(leases.signal(0).aborted).toBe(true);
  leases.assign([0]);
  expect(first.aborted).toBe(true);
  expect(leases.signal(0).aborted).toBe(false);
  expect(leases.signal(7).reason).toBeInstanceOf(PartitionRevokedError);
});
