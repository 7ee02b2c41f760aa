import type { ChatReply } from "@chatq/contracts";

/**
 * The last N replies this worker produced, by request_id. Closes the gap the database check leaves: a duplicate
 * admitted while its first copy was still running finds the answer here instead of calling the API again.
 */
export class RecentReplies {
  readonly #max: number;
  readonly #map = new Map<string, ChatReply>();

  constructor(max: number) {
    this.#max = max;
  }

  get(requestId: string): ChatReply | undefined {
    return this.#map.get(requestId);
  }

  set(requestId: string, reply: ChatReply): void {
    this.#map.delete(requestId);
    this.#map.set(requestId, reply);
    // Maps iterate in insertion order: the first key is the oldest.
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as string);
  }
}
