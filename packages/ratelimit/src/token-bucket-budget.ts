import type { BucketDimension, BucketShape } from "./bucket-shape.ts";

/**
 * One model's shared budget: a request bucket and a token bucket, refilled continuously, taken
 * from together or not at all. This file is the pure twin of token-bucket-budget.lua (Redis mode):
 * keep the two in step, decision for decision.
 */

export interface AcquireItem {
  tokens: number;
  interactive: boolean;
  /**
   * How long (ms) it has been the head of its replica's queue for its priority; 0 when it is not the head.
   * Across replicas the head that has waited longest goes first (see RESERVATION_GRACE_MS). A duration, not a
   * time: the budget turns it into a time on its own clock, so replicas' clocks never need to agree.
   */
  headMs: number;
}

export interface AcquireOutcome {
  /** How many items were granted: always the first ones, in order. */
  granted: number;
  /** Milliseconds until the first refused item could fit; undefined when all were granted. */
  retryMs: number | undefined;
  /** What is left after the grants (Infinity when unlimited); lets observe() skip useless calls. */
  freeRequests: number;
  freeTokens: number;
}

/**
 * Order across replicas. The refused head of a replica's queue reserves the budget until shortly after
 * the moment it was told to retry: meanwhile other replicas' work of lower priority, or of the same
 * priority that has been waiting at the head of its queue for less time, is refused even if it fits.
 * So interactive work anywhere goes before batch work everywhere, and a big request is not starved by
 * a stream of small ones from other replicas (a shared bucket would otherwise never fill up enough).
 *
 * Age counts from when an item became its replica's head, not from when it was queued: an item behind
 * a granted one becomes head at that moment (it is sent with headMs 0). FIFO by enqueue time let a
 * replica with a deep, old backlog hold every newcomer off until all of it had gone (a scale-out made
 * no call for 100 s); by head age, a replica that was just served is younger than every other
 * replica's waiting head.
 *
 * That alone is not enough: the holder renews the reservation with its next head, and the replicas
 * refused behind it are asleep until its turn ends. So the budget also remembers the best head refused
 * behind the holder (`next`), and when the holder's turn ends (its head granted, its next one refused,
 * or nothing of it left waiting) the reservation passes to that head if it has waited longer. The
 * reservation thereby goes round the replicas with work, one turn each (one call's grants), whatever
 * the depth of their queues. Every claim expires on its own: a replica that died or lost its work
 * blocks the others for at most its wait plus two graces.
 */
export const RESERVATION_GRACE_MS = 50;

/** A refused head's claim on the budget: its owner, priority rank (0 interactive), and since when it is head. */
interface Claim {
  until: number;
  owner: string;
  rank: number;
  since: number;
}

interface Head {
  rank: number;
  since: number;
}

/** More urgent, or the same urgency and head for longer. */
const before = (a: Head, b: Head) => a.rank < b.rank || (a.rank === b.rank && a.since < b.since);

// Refill arithmetic in floating point can leave a level a hair short after exactly the right wait.
const EPSILON = 1e-9;

/** Level needed to take `cost`: a cost above the capacity goes once the bucket is full, leaving a debt. */
function needed(d: BucketDimension, cost: number): number {
  return Math.min(cost, d.capacity);
}

export class TokenBucketBudget {
  private requests = Number.NaN; // NaN until first use: a new budget starts full
  private tokens = Number.NaN;
  private at = Number.NEGATIVE_INFINITY;
  private holdUntil = 0;
  private reservation: Claim = { until: 0, owner: "", rank: 0, since: 0 };
  /** The best head refused behind the reservation: it holds the reservation when the holder's turn ends. */
  private next: Claim = { until: 0, owner: "", rank: 0, since: 0 };

  acquire(now: number, shape: BucketShape, items: readonly AcquireItem[], owner: string): AcquireOutcome {
    this.refill(now, shape);
    let granted = 0;
    let retryMs: number | undefined;
    if (this.holdUntil > now && items.length > 0) {
      // Everyone waits out a 429's retry-after; who is next is kept for after it.
      retryMs = Math.ceil(this.holdUntil - now);
    } else {
      for (const item of items) {
        const head: Head = { rank: item.interactive ? 0 : 1, since: now - item.headMs };
        const res = this.reservation;
        if (res.until > now && res.owner !== owner && !before(head, res)) {
          // Behind another replica's head: come back when its turn ends, and be next if none better is.
          retryMs = Math.ceil(res.until - now);
          const next = this.next;
          if (!(next.until > now) || next.owner === owner || before(head, next)) {
            this.next = { until: res.until + RESERVATION_GRACE_MS, owner, ...head };
          }
          break;
        }
        const wait = this.msUntilFits(shape, item.tokens);
        if (wait > 0) {
          const next = this.next;
          if (next.until > now && next.owner !== owner && before(next, head)) {
            // This replica's turn is over and a head elsewhere has waited longer: the turn passes to it.
            this.reservation = { ...next };
            this.next = { until: next.until + RESERVATION_GRACE_MS, owner, ...head };
            retryMs = Math.ceil(next.until - now);
          } else {
            this.reservation = { until: now + wait + RESERVATION_GRACE_MS, owner, ...head };
            if (next.owner === owner) next.until = 0;
            retryMs = wait;
          }
          break;
        }
        if (shape.requests) this.requests -= 1;
        if (shape.tokens) this.tokens -= item.tokens;
        granted++;
        // Its waiting head was served: what it sends next is a new head, and must queue again.
        if (this.next.owner === owner) this.next.until = 0;
      }
      if (retryMs === undefined) {
        // Nothing of this replica's waits any more: its turn ends, and passes on to the next head waiting.
        if (this.next.owner === owner) this.next.until = 0;
        if (this.reservation.owner === owner) this.handOver(now);
      }
    }
    return {
      granted,
      retryMs,
      freeRequests: shape.requests ? Math.floor(this.requests + EPSILON) : Number.POSITIVE_INFINITY,
      freeTokens: shape.tokens ? Math.floor(this.tokens + EPSILON) : Number.POSITIVE_INFINITY,
    };
  }

  /**
   * Puts requests and tokens back (a grant never used, or charged less than reserved), or takes
   * more when negative (the API charged more than reserved). Never above capacity.
   */
  giveBack(now: number, shape: BucketShape, requests: number, tokens: number): void {
    this.refill(now, shape);
    if (shape.requests) this.requests = Math.min(shape.requests.capacity, this.requests + requests);
    if (shape.tokens) this.tokens = Math.min(shape.tokens.capacity, this.tokens + tokens);
  }

  /**
   * The API reports what remains of its budget. If that is less than we hold, someone we don't see
   * is spending it (another app on the key, lost state): come down to it. Never raises ours:
   * answers are stale by their latency, so ours is the better estimate.
   */
  observe(now: number, shape: BucketShape, remainingRequests?: number, remainingTokens?: number): void {
    this.refill(now, shape);
    if (shape.requests && remainingRequests !== undefined) {
      this.requests = Math.min(this.requests, Math.max(0, remainingRequests));
    }
    if (shape.tokens && remainingTokens !== undefined) {
      this.tokens = Math.min(this.tokens, Math.max(0, remainingTokens));
    }
  }

  holdBack(now: number, shape: BucketShape, ms: number): void {
    this.refill(now, shape);
    this.holdUntil = Math.max(this.holdUntil, now + ms);
  }

  private handOver(now: number): void {
    const next = this.next;
    if (next.until > now) {
      this.reservation = { ...next };
      next.until = 0;
    } else {
      this.reservation.until = 0;
    }
  }

  private msUntilFits(shape: BucketShape, tokens: number): number {
    let wait = 0;
    if (shape.requests) {
      wait = Math.max(wait, (needed(shape.requests, 1) - this.requests - EPSILON) / shape.requests.perMs);
    }
    if (shape.tokens) {
      wait = Math.max(wait, (needed(shape.tokens, tokens) - this.tokens - EPSILON) / shape.tokens.perMs);
    }
    return wait > 0 ? Math.max(1, Math.ceil(wait)) : 0;
  }

  private refill(now: number, shape: BucketShape): void {
    if (Number.isNaN(this.requests) || Number.isNaN(this.tokens)) {
      this.requests = shape.requests?.capacity ?? 0;
      this.tokens = shape.tokens?.capacity ?? 0;
      this.at = now;
      return;
    }
    // A clock that steps back (another replica's, a failed-over Redis) refills nothing, rather than draining.
    if (now <= this.at) return;
    const dt = now - this.at;
    if (shape.requests)
      this.requests = Math.min(shape.requests.capacity, this.requests + dt * shape.requests.perMs);
    if (shape.tokens) this.tokens = Math.min(shape.tokens.capacity, this.tokens + dt * shape.tokens.perMs);
    this.at = now;
  }
}
