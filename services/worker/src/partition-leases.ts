import { setMaxListeners } from "node:events";

/** Why a lease ended: the partition belongs to another member of the group now. */
export class PartitionRevokedError extends Error {
  override readonly name = "PartitionRevokedError";
  readonly partition: number;
  constructor(partition: number) {
    super(`partition ${partition} was assigned to another member`);
    this.partition = partition;
  }
}

// The signal handed out for a partition this member does not own: its work is someone else's already.
const revoked = (partition: number) => AbortSignal.abort(new PartitionRevokedError(partition));

/**
 * The partitions this member owns, each with an AbortSignal that aborts the moment a rebalance gives the partition
 * to another member. Work of that partition still waiting for the shared budget (or a retry's backoff) listens to
 * it, so it stops at once and its place in the budget goes to work that is still ours, here or at the new owner,
 * instead of being granted later and thrown away.
 */
export class PartitionLeases {
  readonly #leases = new Map<number, AbortController>();

  /** Applies the partitions owned after a (re)join: leases of the others end now. Returns the partitions lost. */
  assign(partitions: readonly number[]): number[] {
    const kept = new Set(partitions);
    const lost: number[] = [];
    for (const [partition, lease] of this.#leases) {
      if (kept.has(partition)) continue;
      this.#leases.delete(partition);
      lease.abort(new PartitionRevokedError(partition));
      lost.push(partition);
    }
    for (const partition of kept) {
      if (this.#leases.has(partition)) continue;
      const lease = new AbortController();
      // Every job of the partition waiting for budget listens: hundreds of listeners are expected, not a leak.
      setMaxListeners(0, lease.signal);
      this.#leases.set(partition, lease);
    }
    return lost;
  }

  owns(partition: number): boolean {
    return this.#leases.has(partition);
  }

  /** Aborts when the partition is lost (already aborted if it is not ours). A partition regained later gets a new one. */
  signal(partition: number): AbortSignal {
    return this.#leases.get(partition)?.signal ?? revoked(partition);
  }
}
