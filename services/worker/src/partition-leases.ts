import { setMaxListeners } from "node:events";

/**
 * Which partitions this member owns, as one AbortSignal per partition and ownership period. A job carries the
 * signal of the period it was fetched in: when its partition moves to another member (or the worker stops) the
 * signal aborts, and whatever the job is waiting for (the rate limiter, a closed circuit, a backoff) lets go at
 * once, so it neither holds budget another replica needs nor calls the API for a request its new owner will ask.
 */
export class PartitionLeases {
  readonly #leases = new Map<number, AbortController>();
  #ended: unknown;

  /** After a (re)join: keeps the leases of partitions still owned, ends those of the lost ones. Returns the lost. */
  assign(partitions: readonly number[]): number[] {
    const keep = new Set(partitions);
    const lost: number[] = [];
    for (const [p, lease] of this.#leases) {
      if (keep.has(p)) continue;
      lease.abort(new PartitionRevoked(p));
      this.#leases.delete(p);
      lost.push(p);
    }
    for (const p of partitions) if (!this.#leases.has(p)) this.#leases.set(p, newLease());
    return lost;
  }

  owns(partition: number): boolean {
    return this.#leases.has(partition);
  }

  /** The current period's signal; an aborted one when the partition is not ours (or the worker is stopping). */
  signal(partition: number): AbortSignal {
    const lease = this.#leases.get(partition);
    if (lease) return lease.signal;
    return AbortSignal.abort(this.#ended ?? new PartitionRevoked(partition));
  }

  /** At shutdown: every job that has not reached the API lets go. */
  endAll(reason: unknown): void {
    this.#ended = reason;
    for (const lease of this.#leases.values()) lease.abort(reason);
    this.#leases.clear();
  }
}

function newLease(): AbortController {
  const lease = new AbortController();
  // Every job of the partition waiting for budget, a gate or a backoff listens to its lease: hundreds of
  // listeners on one signal are expected, not a leak.
  setMaxListeners(0, lease.signal);
  return lease;
}

export class PartitionRevoked extends Error {
  override readonly name = "PartitionRevoked";
  readonly partition: number;
  constructor(partition: number) {
    super(`partition ${partition} now belongs to another member`);
    this.partition = partition;
  }
}
