export type Priority = "interactive" | "batch";

/** OpenAI's per-model limits for the organisation; 0 = unlimited. */
export interface ModelLimits {
  rpm: number;
  tpm: number;
}

export interface RateLimiterOptions {
  limits: { default: ModelLimits; perModel?: Record<string, ModelLimits> };
  /** Absent → local mode: the budget lives in this process only. */
  redis?: { url: string; keyPrefix?: string };
  /** The slice over which the API enforces a minute's limit pro rata; default 1000. */
  burstSliceMs?: number;
  /**
   * Added to the slice so arrival jitter between our decision and the API's clock cannot put two
   * windows' grants in one API slice; default 20 (costs 2% of a 1 s slice).
   */
  jitterMarginMs?: number;
  /** isSaturated() is true while queued() >= maxQueued; default 1000. */
  maxQueued?: number;
  /**
   * Injectable for tests. In Redis mode, when given, it is also the budget's clock; otherwise the
   * Redis server's TIME is, so replicas with skewed clocks still share one timeline.
   */
  clock?: () => number;
  /** Failures of background Redis work (reconcile, observe, holdBack, retried acquisitions). */
  onError?: (err: unknown) => void;
}

export interface AcquireRequest {
  model: string;
  /** Prompt tokens plus max_tokens (or the default output budget): what the API charges at send time. */
  tokens: number;
  priority: Priority;
  signal?: AbortSignal;
}

export interface Permit {
  waitedMs: number;
  tokens: number;
  /**
   * Replace the reserved tokens by what the API really charged (real prompt tokens plus the
   * max_tokens reserve, since OpenAI charges max_tokens at send time). Gives back or takes extra
   * while the grant is still inside the window; a no-op after.
   */
  reconcile(actualTokens: number): void;
  /**
   * The call was not made after all (its work moved elsewhere, the worker is stopping): gives the request and
   * its tokens back to the budget, for every replica. Only right after the grant, for a call never made (an old
   * grant's budget has come back with the refill already). Once
   * released, reconcile() does nothing.
   */
  release(): void;
}

/** Parsed from x-ratelimit-* headers of any answer (200 or 429). */
export interface RateLimitObservation {
  limitRequests?: number;
  limitTokens?: number;
  remainingRequests?: number;
  remainingTokens?: number;
  resetRequestsMs?: number;
  resetTokensMs?: number;
}

export interface QueueDepth {
  model: string;
  priority: Priority;
  queued: number;
}

export interface RateLimiter {
  /**
   * Resolves when the shared budget allows the call. Rejects with RateLimitAbortedError if the
   * signal aborts, RequestTooLargeError if no budget could ever allow it, RateLimiterClosedError
   * after close().
   */
  acquire(req: AcquireRequest): Promise<Permit>;
  /** If the API says less remains than we think, lower ours (for every replica). */
  observe(model: string, o: RateLimitObservation): void;
  /** After a 429's retry-after: pause this model for every replica. */
  holdBack(model: string, ms: number): void;
  snapshot(): QueueDepth[];
  queued(): number;
  isSaturated(): boolean;
  /** Called each time queued() drops back below maxQueued after being saturated. */
  onDrain(cb: () => void): void;
  /** Rejects waiters, waits for in-flight Redis calls, disconnects. */
  close(): Promise<void>;
}
