import { refusalOf } from "@chatq/kafka";
import { StoreError } from "@chatq/store";

export interface OutageRetryOptions {
  /** Every failure, before deciding: for the error counter and the log. */
  onError: (err: unknown) => void;
  /** True when retrying is pointless or no longer wanted (not an outage, or shutting down). */
  giveUp: (err: unknown) => boolean;
  sleep: (ms: number) => Promise<void>;
  /** Tries in all; unbounded unless the caller has a plan B. */
  attempts?: number;
}

/**
 * The longest sleep between tries. A sleeping retry does not notice the dependency is back, so this is what an
 * outage's end can add to recovery (5 s measured as 2–5 s after Postgres returned, test/faults/postgres-restart);
 * a try every 2 s against a dependency that is down costs nothing.
 */
const MAX_OUTAGE_BACKOFF_MS = 2_000;

/**
 * Postgres or Kafka being down is not a request's fault: the call is tried again with a doubling backoff
 * (100 ms up to 2 s) until it works, `giveUp` says stop, or the attempts run out.
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
      delay = Math.min(delay * 2, MAX_OUTAGE_BACKOFF_MS);
    }
  }
}

/** A database error that retrying cannot fix: a refusal (bad data, a bug), not an outage. */
export function isPermanentStoreError(err: unknown): err is StoreError {
  return err instanceof StoreError && !err.retryable;
}

/**
 * Postgres away (its error says retryable): worth waiting for. Anything else from a store call, a refusal or a
 * bug that threw something other than a StoreError, would fail again the same way: retrying it for ever would
 * hold every partition's work behind it.
 */
export function isStoreOutage(err: unknown): boolean {
  return err instanceof StoreError && err.retryable;
}

/**
 * Kafka away or busy (kafkajs errors that are not a refusal of the record): worth waiting for. kafkajs reports
 * a cluster that stayed down through its own retries as non-retriable, so its class decides, not its flag; a
 * non-kafkajs error from a send is a bug, which retrying would only repeat.
 */
export function isKafkaOutage(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === "string" && name.startsWith("KafkaJS") && refusalOf(err) === undefined;
}
