import type { ModelLimits } from "./limiter-types.ts";

/** One dimension (requests or tokens) of a model's budget as a continuously refilled bucket. */
export interface BucketDimension {
  /** limit × slice / 60 000: the most that may go out at once. */
  capacity: number;
  /** Refill per ms: the capacity over the slice plus the jitter margin. */
  perMs: number;
}

/** Both buckets of one model, computed once here and read by the pure-TS budget and the Redis script alike. */
export interface BucketShape {
  /** undefined = unlimited. */
  requests: BucketDimension | undefined;
  tokens: BucketDimension | undefined;
  /** Largest request ever allowed (OpenAI answers "request too large" above a minute's TPM); 0 = unlimited. */
  maxRequestTokens: number;
}

const MINUTE_MS = 60_000;

/**
 * Turns per-minute limits into buckets the way OpenAI enforces them over short slices (and the
 * fake does): capacity = limit × slice / 60 000, refilled continuously, so a minute's budget never
 * goes out in one burst. The refill is stretched over slice + margin (2% slower at 1000 + 20 ms)
 * because a grant reaches the API a few ms after Redis decided it, with jitter; refilling exactly
 * as fast as the API would turn that jitter into 429s.
 */
export function bucketShape(limits: ModelLimits, sliceMs: number, marginMs: number): BucketShape {
  const dimension = (perMinute: number): BucketDimension | undefined => {
    if (!(perMinute > 0)) return undefined;
    const capacity = (perMinute * sliceMs) / MINUTE_MS;
    return { capacity, perMs: capacity / (sliceMs + marginMs) };
  };
  return {
    requests: dimension(limits.rpm),
    tokens: dimension(limits.tpm),
    maxRequestTokens: Math.max(limits.tpm, 0),
  };
}
