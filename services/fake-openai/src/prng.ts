/**
 * Seedable randomness. The fake must replay the same faults and latencies for the same seed, and produce the same
 * reply for the same request, so nothing here touches Math.random.
 */

/** A uniform source in [0, 1), like Math.random. */
export type RandomSource = () => number;

/** mulberry32: tiny, fast, and good enough to pick latencies and faults. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over UTF-16 code units: a stable 32-bit fingerprint of a request, used to seed its reply. */
export function hashString(text: string, basis = 0x811c9dc5): number {
  let hash = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
