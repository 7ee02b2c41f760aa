/**
 * A small cache whose entries expire `ttlMs` after they were loaded, sharing one load between concurrent callers.
 * Its TTL is what bounds how long a replica may still accept a key revoked (or a tenant disabled) elsewhere.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: Promise<V>; expiresAt: number }>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #clock: () => number;

  constructor(opts: { ttlMs: number; maxEntries?: number; clock?: () => number }) {
    this.#ttlMs = opts.ttlMs;
    this.#maxEntries = opts.maxEntries ?? 10_000;
    this.#clock = opts.clock ?? Date.now;
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.#clock();
    const hit = this.#entries.get(key);
    if (hit !== undefined && hit.expiresAt > now) return hit.value;
    // Bounded: a flood of distinct wrong keys must not grow memory; the oldest entry goes first.
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    const value = load();
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: now + this.#ttlMs });
    // A failed load (Postgres away) is not remembered: the next call tries again.
    value.catch(() => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    });
    return value;
  }
}
