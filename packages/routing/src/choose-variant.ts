import type { Variant } from "./route-table.ts";

/**
 * 32-bit FNV-1a of the key and the variant's name, finished with murmur3's fmix32 so that keys differing in one
 * character spread over the whole range. Pure arithmetic: no crypto, no allocation (a routing decision is on the
 * hot path of every request; see BENCHMARKS.md "Routing").
 */
export function hash32(key: string, salt: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= 0x1f; // a separator, so ("ab", "c") and ("a", "bc") differ
  h = Math.imul(h, 0x01000193);
  for (let i = 0; i < salt.length; i++) {
    h ^= salt.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Weighted rendezvous hashing (highest random weight): every variant scores `-weight / ln(u)` with `u` uniform in
 * (0, 1) from hash(key, variant name); the highest score wins. The share of keys a variant wins is its weight
 * over the total, the choice depends only on the key and the table (stable across restarts and replicas), and
 * changing weights moves only the keys that must move: 90/10 → 80/20 moves ~10 % of conversations, all towards
 * the grown variant. Keyed by the variant's name, not its position, so reordering the file moves nobody.
 */
export function chooseVariant(variants: readonly Variant[], key: string): Variant {
  let best: Variant | undefined;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const v of variants) {
    if (v.weight <= 0) continue;
    const u = (hash32(key, v.name) + 0.5) / 4_294_967_296;
    const score = -v.weight / Math.log(u);
    if (score > bestScore) {
      bestScore = score;
      best = v;
    }
  }
  // The schema guarantees one variant with weight > 0.
  if (best === undefined) throw new RangeError("a route needs a variant with weight > 0");
  return best;
}
