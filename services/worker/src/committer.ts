import type { TopicPartitionOffset } from "@chatq/kafka";
import type { OffsetTracker } from "./offset-tracker.ts";

/**
 * Commits what the tracker allows, one commit request at a time: a nudge while a commit is under way is folded
 * into the next one, so a busy worker commits about once per round trip, not once per message.
 */
export class Committer {
  readonly #tracker: OffsetTracker;
  readonly #topic: string;
  readonly #commit: (offsets: TopicPartitionOffset[]) => Promise<void>;
  readonly #onError: (err: unknown) => void;
  #running: Promise<void> | undefined;
  #again = false;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(
    tracker: OffsetTracker,
    topic: string,
    commit: (offsets: TopicPartitionOffset[]) => Promise<void>,
    onError: (err: unknown) => void,
  ) {
    this.#tracker = tracker;
    this.#topic = topic;
    this.#commit = commit;
    this.#onError = onError;
  }

  nudge(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Waits for the commit under way and makes one more for anything finished since. */
  async flush(): Promise<void> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#running;
    this.nudge();
    await this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      const offsets = this.#tracker.takeCommittable();
      if (offsets.length === 0) continue;
      try {
        await this.#commit(offsets.map((o) => ({ topic: this.#topic, ...o })));
      } catch (err) {
        // Offered again soon (an idle partition has no next finish to nudge us); after a rebalance the tracker
        // has forgotten lost partitions, so only what this member still owns is retried.
        for (const o of offsets) this.#tracker.untake(o.partition, o.offset);
        this.#onError(err);
        this.#retryTimer ??= setTimeout(() => {
          this.#retryTimer = undefined;
          this.nudge();
        }, 1000);
      }
    } while (this.#again);
  }
}
