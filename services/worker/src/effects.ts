import type { DeadLetterCode } from "@chatq/contracts";
import type { InRecord, OutRecord, RecordProducer } from "@chatq/kafka";
import { type AuditEvent, type Outcome, type RejectedMessage, type Store, StoreError } from "@chatq/store";
import { deadLetterRecord } from "./dead-letter.ts";

const STORE_REFUSED: DeadLetterCode = "store_refused";

/** Everything one finished message still has to do, in this order: store it, publish it, then let its offset go. */
export type Effect =
  | { kind: "outcome"; source: InRecord; outcome: Outcome; reply: OutRecord }
  | { kind: "rejection"; source: InRecord; rejected: RejectedMessage; records: OutRecord[] }
  | { kind: "republish"; source: InRecord; audit: AuditEvent; reply: OutRecord };

export interface EffectsOptions {
  store: Store;
  producer: RecordProducer;
  /** Where an outcome goes that the database refuses for good (a bug or bad data, not an outage). */
  deadLetterTopic: string;
  /** Called once a batch is stored AND published: only now may these offsets be committed. */
  onDone: (sources: InRecord[]) => void;
  onError: (operation: "store" | "publish", err: unknown) => void;
  sleep: (ms: number) => Promise<void>;
  /** How long the first effect waits for company before a flush; batches grow by themselves under load. */
  flushDelayMs?: number;
  maxBatch?: number;
}

interface Pending {
  effect: Effect;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Writes the effects of many messages in few round trips: one transaction for all outcomes of a batch, one
 * produce request for all their replies. The order per message is fixed here and only here:
 *   database write → reply produced → offset released for commit.
 * A reply is never produced for a request that is not stored. The one place a crash repeats work: after the
 * API answered and before this batch is stored, the request is not recorded as done, so it is asked again.
 */
export class Effects {
  readonly #o: Required<Omit<EffectsOptions, "flushDelayMs" | "maxBatch">> & {
    flushDelayMs: number;
    maxBatch: number;
  };
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #stopping = false;

  constructor(opts: EffectsOptions) {
    this.#o = { flushDelayMs: 2, maxBatch: 500, ...opts };
  }

  /** Resolves when the effect is stored and published. */
  push(effect: Effect): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ effect, resolve, reject });
      this.#schedule();
    });
  }

  /** Writes what is pending now; used at shutdown. Gives up retrying failed writes once stopping. */
  async drain(): Promise<void> {
    this.#stopping = true;
    while (this.#pending.length > 0 || this.#flushing) {
      if (this.#timer) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
      await (this.#flushing ?? this.#flush());
    }
  }

  #schedule(): void {
    if (this.#timer || this.#flushing) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#flush();
    }, this.#o.flushDelayMs);
  }

  #flush(): Promise<void> {
    const batch = this.#pending.splice(0, this.#o.maxBatch);
    this.#flushing = this.#write(batch).finally(() => {
      this.#flushing = undefined;
      if (this.#pending.length > 0) this.#schedule();
    });
    return this.#flushing;
  }

  async #write(batch: Pending[]): Promise<void> {
    if (batch.length === 0) return;
    try {
      const outcomes: Extract<Effect, { kind: "outcome" }>[] = [];
      const rejections: RejectedMessage[] = [];
      for (const { effect } of batch) {
        if (effect.kind === "outcome") outcomes.push(effect);
        else if (effect.kind === "rejection") rejections.push(effect.rejected);
        else this.#o.store.audit.append(effect.audit);
      }
      if (rejections.length > 0) await this.#retry("store", () => this.#o.store.reject(rejections));
      const { replies, refused } = await this.#storeOutcomes(outcomes);
      const records: OutRecord[] = [...refused];
      for (const { effect } of batch) {
        if (effect.kind === "rejection") records.push(...effect.records);
        else if (effect.kind === "republish") records.push(effect.reply);
      }
      records.push(...replies);
      await this.#retry("publish", () => this.#o.producer.send(records));
      this.#o.onDone(batch.map((p) => p.effect.source));
      for (const p of batch) p.resolve();
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  /**
   * One transaction for the batch. If the database refuses it for good (not an outage: a constraint or a value
   * it cannot hold), the outcomes are written one by one so a single bad row cannot hold back the rest; one it
   * refuses alone goes to the DLQ with the reason (its reply is not published: it is not stored).
   */
  async #storeOutcomes(
    outcomes: Extract<Effect, { kind: "outcome" }>[],
  ): Promise<{ replies: OutRecord[]; refused: OutRecord[] }> {
    if (outcomes.length === 0) return { replies: [], refused: [] };
    try {
      const { inserted } = await this.#retry("store", () =>
        this.#o.store.complete(outcomes.map((e) => e.outcome)),
      );
      return { replies: await this.#repliesToPublish(outcomes, inserted), refused: [] };
    } catch (err) {
      if (!isPermanent(err)) throw err;
    }
    const replies: OutRecord[] = [];
    const refused: OutRecord[] = [];
    for (const e of outcomes) {
      try {
        const { inserted } = await this.#retry("store", () => this.#o.store.complete([e.outcome]));
        replies.push(...(await this.#repliesToPublish([e], inserted)));
      } catch (err) {
        if (!isPermanent(err)) throw err;
        const message = `the database refused the outcome: ${(err as Error).message}`;
        refused.push(
          deadLetterRecord(
            e.source,
            { code: STORE_REFUSED, message, requestId: e.outcome.request.request_id },
            this.#o.deadLetterTopic,
            new Date(),
          ),
        );
        this.#o.store.audit.append({
          event: "dead_lettered",
          requestId: e.outcome.request.request_id,
          errorCode: STORE_REFUSED,
          detail: { message: message.slice(0, 500) },
          at: new Date(),
        });
      }
    }
    return { replies, refused };
  }

  /**
   * A reply already stored by someone else (a duplicate processed by another replica during a rebalance) wins:
   * publish what the database holds, so every copy of a reply says the same thing.
   */
  async #repliesToPublish(
    outcomes: Extract<Effect, { kind: "outcome" }>[],
    inserted: Set<string>,
  ): Promise<OutRecord[]> {
    const out: OutRecord[] = [];
    for (const e of outcomes) {
      const id = e.outcome.request.request_id;
      if (inserted.has(id)) {
        out.push(e.reply);
        continue;
      }
      const stored = await this.#o.store.findReply(id);
      out.push(stored ? { ...e.reply, value: JSON.stringify(stored) } : e.reply);
    }
    return out;
  }

  /** Postgres or Kafka being down is not the request's fault: keep trying (with backoff) until shutdown. */
  async #retry<T>(operation: "store" | "publish", fn: () => Promise<T>): Promise<T> {
    let delay = 100;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        this.#o.onError(operation, err);
        if (this.#stopping || isPermanent(err)) throw err;
        await this.#o.sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }
}

/** A database error that retrying cannot fix (an outage, by contrast, is retried until it ends). */
function isPermanent(err: unknown): boolean {
  return err instanceof StoreError && !err.retryable;
}
