import { StoreError } from "@chatq/store";

export interface OutageRetryOptions {
  /** Every failure, before deciding: for the error counter and the log. */
  onError: (err: unknown) => void;
  /** True when retrying is pointless or no longer wanted (shutting down). */
  giveUp: (err: unknown) => boolean;
  sleep: (ms: number) => Promise<void>;
  /** Tries in all; unbounded unless the caller has a plan B. */
  attempts?: number;
}

/**
 * Postgres or Kafka being down is not a request's fault: the call is tried again with a doubling backoff
 * (100 ms up to 5 s) until it works, `giveUp` says stop, or the attempts run out.
 */
export async function retryThroughOutage<T>(fn: () => Promise<T>, o: OutageRetryOptions): Promise<T> {
  const attempts = o.attempts ?? Number.POSITIVE_INFINITY;
  let delay = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      o.onError(err);
      if (o.giveUp(err) || attempt >= attempts) throw err;
      await o.sleep(delay);
      delay = Math.min(delay * 2, 5000);
    }
  }
}

/** A database error that retrying cannot fix: a refusal (bad data, a bug), not an outage. */
export function isPermanentStoreError(err: unknown): err is StoreError {
  return err instanceof StoreError && !err.retryable;
}
