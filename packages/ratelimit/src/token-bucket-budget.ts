import type { BucketDimension, BucketShape } from "./bucket-shape.ts";

/**
 * One model's shared budget: a request bucket and a token bucket, refilled continuously, taken
 * from together or not at all. This file is the pure twin of token-bucket-budget.lua (Redis mode):
 * keep the two in step, decision for decision.
 */

export interface AcquireItem {
  tokens: number;
  interactive: boolean;
  /** When it was queued (the replica's clock, ms): decides which waiter is older across replicas. */
  since: number;
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
 * The refused head of a replica's queue reserves the budget until shortly after the moment it was
 * told to retry: meanwhile other replicas' work of lower priority, or of the same priority queued
 * later, is refused too. So interactive work anywhere goes before batch work everywhere, and a big
 * request is not starved by a stream of small ones from other replicas (a shared bucket would
 * otherwise never fill up enough for it). The oldest, most urgent refused head holds the reservation.
 */
export const RESERVATION_GRACE_MS = 50;

interface Reservation {
  until: number;
  owner: string;
  rank: number;
  since: number;
}

const rank = (item: AcquireItem) => (item.interactive ? 0 : 1);

/** Whether `item` (of `owner`) must wait behind reservation `r`. */
function behind(r: Reservation, now: number, owner: string, item: AcquireItem): boolean {
  if (!(r.until > now) || r.owner === owner) return false;
  return rank(item) > r.rank || (rank(item) === r.rank && item.since >= r.since);
}

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
  private reservation: Reservation = { until: 0, owner: "", rank: 0, since: 0 };

  acquire(now: number, shape: BucketShape, items: readonly AcquireItem[], owner: string): AcquireOutcome {
    this.refill(now, shape);
    let granted = 0;
    let retryMs: number | undefined;
    let refused = false;
    const r = this.reservation;
    if (this.holdUntil > now && items.length > 0) {
      retryMs = Math.ceil(this.holdUntil - now);
    } else {
      for (const item of items) {
        if (behind(r, now, owner, item)) {
          retryMs = Math.ceil(r.until - now);
          break;
        }
        const wait = this.msUntilFits(shape, item.tokens);
        if (wait > 0) {
          retryMs = wait;
          refused = true;
          // Take the reservation unless an older or more urgent head elsewhere holds it.
          const free = !(r.until > now) || r.owner === owner;
          if (free || rank(item) < r.rank || (rank(item) === r.rank && item.since < r.since)) {
            this.reservation = {
              until: now + wait + RESERVATION_GRACE_MS,
              owner,
              rank: rank(item),
              since: item.since,
            };
          }
          break;
        }
        if (shape.requests) this.requests -= 1;
        if (shape.tokens) this.tokens -= item.tokens;
        granted++;
      }
    }
    // Nothing of this replica's is waiting for the budget any more: release its reservation.
    if (!refused && this.reservation.owner === owner) this.reservation.until = 0;
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
