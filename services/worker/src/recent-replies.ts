/**
 * The last N replies this worker produced, by request_id, as the JSON that went out. Closes the gap the database
 * check leaves: a duplicate admitted while its first copy was still running finds the answer here instead of
 * calling the API again, and gets the very same bytes.
 */
export class RecentReplies {
  readonly #max: number;
  readonly #map = new Map<string, string>();

  constructor(max: number) {
    this.#max = max;
  }

  get(requestId: string): string | undefined {
    return this.#map.get(requestId);
  }

  set(requestId: string, reply: string): void {
    this.#map.delete(requestId);
    this.#map.set(requestId, reply);
    // Maps iterate in insertion order: the first key is the oldest.
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as string);
  }
}
