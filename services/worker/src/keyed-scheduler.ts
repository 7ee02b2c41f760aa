/**
 * Runs work for different keys concurrently and for the same key strictly in arrival order, one at a time.
 * (A conversation's turns must be answered in order: each needs the history the previous one wrote.)
 * Everything accepted and not finished counts against one bound; the caller pauses fetching when it is full.
 */
export class KeyedScheduler<T> {
  readonly #queues = new Map<string, T[]>();
  readonly #run: (item: T) => Promise<void>;
  readonly #onSettled: () => void;
  #size = 0;
  #stopped = false;

  /** `run` must not reject: a job's failure is its own outcome. `onSettled` fires after each job. */
  constructor(run: (item: T) => Promise<void>, onSettled: () => void = () => {}) {
    this.#run = run;
    this.#onSettled = onSettled;
  }

  push(key: string, item: T): void {
    if (this.#stopped) return;
    this.#size++;
    const queue = this.#queues.get(key);
    if (queue) {
      queue.push(item);
      return;
    }
    this.#queues.set(key, [item]);
    void this.#drain(key);
  }

  /**
   * At shutdown: what is running finishes, what waits behind its key is dropped (never run, never finished,
   * so its offset is not committed and Kafka redelivers it to the next worker).
   */
  stop(): void {
    this.#stopped = true;
    for (const queue of this.#queues.values()) {
      const dropped = queue.splice(1);
      this.#size -= dropped.length;
    }
  }

  /** Accepted and not finished (running or waiting behind their key). */
  size(): number {
    return this.#size;
  }

  /** Keys with work running. */
  activeKeys(): number {
    return this.#queues.size;
  }

  async #drain(key: string): Promise<void> {
    const queue = this.#queues.get(key);
    while (queue && queue.length > 0) {
      const item = queue[0] as T;
      try {
        await this.#run(item);
      } finally {
        queue.shift();
        this.#size--;
        this.#onSettled();
      }
    }
    this.#queues.delete(key);
  }
}
