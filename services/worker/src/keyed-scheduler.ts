/**
 * Runs work for different keys concurrently and for the same key strictly in arrival order, one at a time.
 * (A conversation's turns must be answered in order: each needs the history the previous one wrote.)
 * At most `maxRunning` items run at once; keys with work wait their turn in arrival order, and a key that has
 * more work after an item goes to the back of that line, so one long conversation cannot starve the others.
 * Everything accepted and not finished counts in size(); the caller pauses fetching when it is too large.
 */
export class KeyedScheduler<T> {
  readonly #queues = new Map<string, T[]>();
  /** Keys whose head item is waiting for a run slot. */
  readonly #ready: string[] = [];
  #readyHead = 0;
  readonly #run: (item: T) => Promise<void>;
  readonly #onSettled: () => void;
  readonly #maxRunning: number;
  readonly #runningKeys = new Set<string>();
  #size = 0;
  #stopped = false;

  /** `run` must not reject: a job's failure is its own outcome. `onSettled` fires after each job. */
  constructor(run: (item: T) => Promise<void>, maxRunning: number, onSettled: () => void = () => {}) {
    this.#run = run;
    this.#maxRunning = maxRunning;
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
    this.#ready.push(key);
    this.#startReady();
  }

  /** Accepted and not finished (running or waiting). */
  size(): number {
    return this.#size;
  }

  /** Keys with work (running or next in line): what can be at the API at once; the rest wait behind their key. */
  keys(): number {
    return this.#queues.size;
  }

  running(): number {
    return this.#runningKeys.size;
  }

  /**
   * At shutdown: what is running finishes, what waits is dropped (never run, never finished, so its offset is
   * not committed and Kafka redelivers it to the next worker).
   */
  stop(): T[] {
    this.#stopped = true;
    return this.dropQueued(() => true);
  }

  /** Removes waiting (not running) items that match, e.g. those of a partition this member no longer owns. */
  dropQueued(match: (item: T) => boolean): T[] {
    const dropped: T[] = [];
    for (const [key, queue] of this.#queues) {
      const firstWaiting = this.#runningKeys.has(key) ? 1 : 0;
      const kept = queue.slice(0, firstWaiting);
      for (const item of queue.slice(firstWaiting)) (match(item) ? dropped : kept).push(item);
      queue.splice(0, queue.length, ...kept);
      if (queue.length === 0) this.#queues.delete(key); // its entry in #ready is skipped when reached
    }
    this.#size -= dropped.length;
    if (dropped.length > 0) this.#onSettled();
    return dropped;
  }

  #startReady(): void {
    while (this.#runningKeys.size < this.#maxRunning && this.#readyHead < this.#ready.length) {
      const key = this.#ready[this.#readyHead++] as string;
      const queue = this.#queues.get(key);
      // A key can stand in line twice (its queue was emptied by dropQueued, then refilled): one run at a time.
      if (!queue || queue.length === 0 || this.#runningKeys.has(key)) continue;
      this.#runningKeys.add(key);
      void this.#runHead(key, queue);
    }
    // Compact the line now and then so it does not grow with every key ever seen.
    if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready.splice(0, this.#readyHead);
      this.#readyHead = 0;
    }
  }

  async #runHead(key: string, queue: T[]): Promise<void> {
    try {
      await this.#run(queue[0] as T);
    } finally {
      queue.shift();
      this.#size--;
      this.#runningKeys.delete(key);
      if (queue.length > 0) this.#ready.push(key);
      else if (this.#queues.get(key) === queue) this.#queues.delete(key);
      this.#onSettled();
      this.#startReady();
    }
  }
}
