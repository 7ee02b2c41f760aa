import type { BucketDimension } from "./bucket-shape.ts";

/**
 * What to take out of our bucket when grants reach us (and so the API) `lateMs` after the budget decided.
 *
 * At the decision our level was `level` and we granted `granted`; ours then refills from `level - granted`. The
 * API's bucket refills from `level` (it has not seen the grants yet) and cannot bank past its capacity, then
 * takes `granted` when they arrive. So after `lateMs`, with p = perMs × lateMs:
 *   ours − API's = min(cap, level − granted + p) − (min(cap, level + p) − granted) = clamp(level + p − cap, 0, granted)
 * Zero in steady state (buckets run low); never more than was granted, however late the reply: a reply held up by
 * an outage (a command queued while Redis was down, answered 10 s later) must not become 10 s of refill in debt.
 */
export function lateReplyCharge(
  d: BucketDimension | undefined,
  level: number,
  granted: number,
  lateMs: number,
): number {
  if (d === undefined) return 0;
  return Math.min(granted, Math.max(0, level + d.perMs * lateMs - d.capacity));
}
