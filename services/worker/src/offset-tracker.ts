/**
 * Which offset each partition may commit. Requests finish out of order (different conversations run
 * concurrently), but Kafka redelivers from the last commit, so never commit past an unfinished offset:
 * the committable offset is the lowest one not yet finished.
 *
 * Offsets are held as numbers: Kafka's are int64, but a partition would need 2^53 messages to overflow that.
 */
export class OffsetTracker {
  readonly #partitions = new Map<number, PartitionState>();

  /**
   * Call in fetch order: offsets of one partition arrive increasing. Returns false for an offset already held
   * (kafkajs refetches from the last commit after a rebalance): its first copy will finish it, so skip it.
   * With `lastOffset`, the record stands for the range offset..lastOffset (a batch the client could not decode):
   * finishing it lets the commit move past the whole range.
   */
  track(partition: number, offset: string, lastOffset?: string): boolean {
    let p = this.#partitions.get(partition);
    if (!p) {
      p = {
        pending: [],
        head: 0,
        next: 0,
        done: new Set(),
        rangeEnds: new Map(),
        committable: undefined,
        committed: undefined,
      };
      this.#partitions.set(partition, p);
    }
    const n = Number(offset);
    // A refetch after a rebalance can hand us offsets we already hold (or finished); the first copy counts.
    // `next` survives compaction, so an emptied array does not forget how far the partition got.
    if (n < p.next) return false;
    const last = lastOffset === undefined ? n : Math.max(n, Number(lastOffset));
    p.pending.push(n);
    if (last > n) p.rangeEnds.set(n, last);
    p.next = last + 1;
    return true;
  }

  /** Idempotent; offsets of partitions this member no longer owns are ignored. */
  finish(partition: number, offset: string): void {
    const p = this.#partitions.get(partition);
    if (!p) return;
    const n = Number(offset);
    // Below the lowest pending offset (or at/after anything tracked): finished already, or never ours.
    if (n < (p.pending[p.head] ?? p.next) || n >= p.next) return;
    p.done.add(n);
    while (p.head < p.pending.length) {
      const head = p.pending[p.head] as number;
      if (!p.done.has(head)) break;
      p.done.delete(head);
      p.committable = (p.rangeEnds.get(head) ?? head) + 1;
      p.rangeEnds.delete(head);
      p.head++;
    }
    // Compact now and then so the array does not grow with every message ever seen.
    if (p.head > 1024 && p.head * 2 > p.pending.length) {
      p.pending = p.pending.slice(p.head);
      p.head = 0;
    }
  }

  /** The offsets to commit now (next offset to read, per partition) for partitions that advanced since the last take. */
  takeCommittable(): { partition: number; offset: string }[] {
    const out: { partition: number; offset: string }[] = [];
    for (const [partition, p] of this.#partitions) {
      if (p.committable !== undefined && p.committable !== p.committed) {
        out.push({ partition, offset: String(p.committable) });
        p.committed = p.committable;
      }
    }
    return out;
  }

  /** A failed commit must be tried again: forget that it was taken. */
  untake(partition: number, offset: string): void {
    const p = this.#partitions.get(partition);
    if (p && p.committed === Number(offset)) p.committed = undefined;
  }

  /** After a rebalance: forget partitions this member lost (their new owner starts from the committed offset). */
  retainOnly(partitions: readonly number[]): void {
    const keep = new Set(partitions);
    for (const partition of this.#partitions.keys())
      if (!keep.has(partition)) this.#partitions.delete(partition);
  }

  /** Messages tracked and not yet finished. */
  unfinished(): number {
    let n = 0;
    for (const p of this.#partitions.values()) n += p.pending.length - p.head;
    return n;
  }
}

interface PartitionState {
  pending: number[];
  head: number;
  /** One past the highest offset ever tracked. */
  next: number;
  done: Set<number>;
  /** First offset → last offset of the records that stand for a range. */
  rangeEnds: Map<number, number>;
  committable: number | undefined;
  committed: number | undefined;
}
