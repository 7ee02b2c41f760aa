/**
 * A continuously refilled token bucket, the shape of OpenAI's per-minute limits: `capacity` units, refilled at
 * `capacity / windowMs` per ms. Pure: every call takes the current time, so tests drive it with a fake clock.
 */
export interface BucketDecision {
  admitted: boolean;
  /** When rejected: how long until the same request would be admitted. 0 when admitted. */
  retryAfterMs: number;
}

// Refill arithmetic in floating point can leave the level a hair below a whole unit after exactly the right wait.
const EPSILON = 1e-9;

export class TokenBucket {
  readonly capacity: number;
  readonly refillPerMs: number;
  #level: number;
  #updatedAt: number;

  constructor(capacity: number, windowMs: number, nowMs: number) {
    if (!(capacity > 0) || !(windowMs > 0)) throw new RangeError("capacity and windowMs must be positive");
    this.capacity = capacity;
    this.refillPerMs = capacity / windowMs;
    this.#level = capacity;
    this.#updatedAt = nowMs;
  }

  /** Units available now; negative while a request larger than the bucket is being paid back. */
  level(nowMs: number): number {
    if (nowMs > this.#updatedAt) {
      this.#level = Math.min(this.capacity, this.#level + (nowMs - this.#updatedAt) * this.refillPerMs);
      this.#updatedAt = nowMs;
    }
    return this.#level;
  }

  /**
   * Whether `cost` units may be taken now. A cost above the capacity is admitted once the bucket is full and then
   * leaves it in debt; otherwise a request bigger than one slice (limitSliceMs) could never pass.
   */
  check(cost: number, nowMs: number): BucketDecision {
    const level = this.level(nowMs);
    const needed = Math.min(cost, this.capacity);
    if (level + EPSILON >= needed) return { admitted: true, retryAfterMs: 0 };
    return { admitted: false, retryAfterMs: (needed - level) / this.refillPerMs };
  }

  take(cost: number, nowMs: number): void {
    this.#level = this.level(nowMs) - cost;
  }

  /** Time until the bucket is full again: OpenAI's `x-ratelimit-reset-*`. */
  msUntilFull(nowMs: number): number {
    return Math.max(0, (this.capacity - this.level(nowMs)) / this.refillPerMs);
  }
}
