import { type DeadLetterCode, DLQ_HEADERS } from "@chatq/contracts";
import { type InRecord, type OutRecord, type RecordProducer, refusalOf } from "@chatq/kafka";
import type { AuditEvent, Outcome, RejectedMessage, Store } from "@chatq/store";
import { deadLetterRecord } from "./dead-letter.ts";
import { isKafkaOutage, isStoreOutage, retryThroughOutage } from "./retry-through-outage.ts";
import type { WorkerEvents } from "./worker-events.ts";
import { writeOrIsolate } from "./write-or-isolate.ts";

const STORE_REFUSED: DeadLetterCode = "store_refused";
const PUBLISH_REFUSED: DeadLetterCode = "publish_refused";
/** A dead letter keeps its source's bytes unless they are what Kafka refused: then headers alone say why. */
const MAX_DEAD_LETTER_VALUE = 512 * 1024;

/** Everything one finished message still has to do, in this order: store it, publish it, then let its offset go. */
export type Effect =
  | { kind: "outcome"; source: InRecord; outcome: Outcome; reply: OutRecord }
  | { kind: "rejection"; source: InRecord; rejected: RejectedMessage; records: OutRecord[] }
  | { kind: "republish"; source: InRecord; audit: AuditEvent; reply: OutRecord }
  /** A dead letter that is not a refused request (an undecodable batch): its audit row and its DLQ record. */
  | { kind: "dead_letter"; source: InRecord; audit: AuditEvent; record: OutRecord };

type OutcomeEffect = Extract<Effect, { kind: "outcome" }>;
/** Refused for good, or a bug: either way retrying repeats it, and isolating finds the one item at fault. */
const notStoreOutage = (err: unknown) => !isStoreOutage(err);

export interface EffectsOptions {
  store: Pick<Store, "complete" | "reject" | "findReply" | "audit">;
  producer: RecordProducer;
  /** Where an outcome goes that the database refuses for good (a bug or bad data, not an outage). */
  deadLetterTopic: string;
  events: WorkerEvents;
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
  /** With what was published as the reply of an outcome (the stored reply); undefined when none was. */
  resolve: (published: string | undefined) => void;
  reject: (err: unknown) => void;
}

/** A record to produce and the message it answers for (its dead letter's source if Kafka refuses it). */
interface Outgoing {
  record: OutRecord;
  source: InRecord;
  /** The outcome whose reply this is, to tell its caller what went out. */
  outcome?: OutcomeEffect;
}

/**
 * Writes the effects of many messages in few round trips: one transaction for all outcomes of a batch, one
 * produce request for all their replies. The order per message is fixed here and only here:
 *   database write → reply produced → offset released for commit.
 * A reply is never produced for a request that is not stored. The one place a crash repeats work: after the
 * API answered and before this batch is stored, the request is not recorded as done, so it is asked again.
 * Every dead letter chatq writes leaves through here, and is counted here when Kafka has it.
 */
export class Effects {
  readonly #o: Omit<Required<EffectsOptions>, "flushDelayMs" | "maxBatch"> & {
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

  /** Resolves when the effect is stored and published, with the reply value published for an outcome. */
  push(effect: Effect): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ effect, resolve, reject });
      this.#schedule();
    });
  }

  /** Effects accepted and not yet written: counted by backpressure, since they hold their messages in memory. */
  pending(): number {
    return this.#pending.length;
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
      const outcomes: OutcomeEffect[] = [];
      const rejections: RejectedMessage[] = [];
      const outgoing: Outgoing[] = [];
      for (const { effect } of batch) {
        if (effect.kind === "outcome") outcomes.push(effect);
        else if (effect.kind === "rejection") {
          rejections.push(effect.rejected);
          for (const record of effect.records) outgoing.push({ record, source: effect.source });
        } else {
          this.#o.store.audit.append(effect.audit);
          const record = effect.kind === "republish" ? effect.reply : effect.record;
          outgoing.push({ record, source: effect.source });
        }
      }
      await this.#storeRejections(rejections);
      outgoing.push(...(await this.#storeOutcomes(outcomes)));
      const published = await this.#publish(outgoing);
      for (const { effect } of batch) if (effect.kind === "republish") this.#o.events.emit("republished", {});
      this.#o.onDone(batch.map((p) => p.effect.source));
      for (const p of batch) p.resolve(p.effect.kind === "outcome" ? published.get(p.effect) : undefined);
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  /**
   * The audit rows of refusals. One the database refuses for good does not hold back the rest; its dead letter
   * still goes out (the DLQ is where the producer looks), and the refusal is reported.
   */
  async #storeRejections(rejections: RejectedMessage[]): Promise<void> {
    await writeOrIsolate(rejections, {
      writeAll: (rows) => this.#retry("store", () => this.#o.store.reject([...rows])),
      isolates: notStoreOutage,
      refuses: notStoreOutage,
      onRefused: (_row, err) => this.#o.onError("store", err),
    });
  }

  /**
   * One transaction for the batch. If the database refuses it for good (not an outage: a constraint or a value
   * it cannot hold), the outcomes are written one by one so a single bad row cannot hold back the rest; one it
   * refuses alone goes to the DLQ with the reason (its reply is not published: it is not stored).
   */
  async #storeOutcomes(outcomes: OutcomeEffect[]): Promise<Outgoing[]> {
    const deadLetters = new Map<OutcomeEffect, Outgoing>();
    const written = await writeOrIsolate(outcomes, {
      writeAll: async (batch) => {
        const { inserted } = await this.#retry("store", () =>
          this.#o.store.complete(batch.map((e) => e.outcome)),
        );
        return this.#repliesToPublish(batch, inserted);
      },
      isolates: notStoreOutage,
      refuses: notStoreOutage,
      onRefused: (e, err) => {
        const requestId = e.outcome.request.request_id;
        const message = `the database refused the outcome: ${(err as Error).message}`;
        deadLetters.set(e, {
          record: this.#deadLetter(e.source, STORE_REFUSED, message, requestId),
          source: e.source,
        });
        this.#auditDeadLetter(requestId, STORE_REFUSED, message);
      },
    });
    // In the batch's order: each outcome's reply, or the dead letter that replaces it.
    const replies = new Map(written.flatMap((w) => w.result).map((o) => [o.outcome as OutcomeEffect, o]));
    return outcomes.flatMap((e) => {
      const o = replies.get(e) ?? deadLetters.get(e);
      return o === undefined ? [] : [o];
    });
  }

  /**
   * A reply already stored by someone else (a duplicate processed by another replica during a rebalance) wins:
   * publish what the database holds, so every copy of a reply says the same thing.
   */
  async #repliesToPublish(outcomes: readonly OutcomeEffect[], inserted: Set<string>): Promise<Outgoing[]> {
    const out: Outgoing[] = [];
    for (const e of outcomes) {
      const id = e.outcome.request.request_id;
      let record = e.reply;
      if (!inserted.has(id)) {
        const stored = await this.#retry("store", () => this.#o.store.findReply(id));
        if (stored) record = { ...e.reply, value: JSON.stringify(stored) };
      }
      out.push({ record, source: e.source, outcome: e });
    }
    return out;
  }

  /**
   * One produce for the batch. When it keeps failing, each record goes alone: one that Kafka refuses for good
   * (too large, a topic it may not write) is replaced by a dead letter of its source message, so one record never
   * blocks the others; anything else is an outage and is retried until it ends (or the worker stops).
   * Returns, per outcome, the reply value that went out.
   */
  async #publish(outgoing: Outgoing[]): Promise<Map<Effect, string | undefined>> {
    const published = new Map<Effect, string | undefined>();
    const sent = (batch: readonly Outgoing[]) => {
      for (const o of batch) {
        if (o.outcome) published.set(o.outcome, String(o.record.value));
        this.#countIfDeadLetter(o.record);
      }
    };
    const written = await writeOrIsolate(outgoing, {
      writeAll: (batch) => this.#retry("publish", () => this.#o.producer.send(batch.map((o) => o.record)), 3),
      writeOne: (o) =>
        retryThroughOutage(() => this.#o.producer.send([o.record]), {
          onError: (err) => this.#o.onError("publish", err),
          giveUp: (err) => this.#stopping || !isKafkaOutage(err),
          sleep: this.#o.sleep,
        }),
      isolates: () => !this.#stopping,
      // A record Kafka refuses for good, or one whose send fails with a bug rather than an outage.
      refuses: (err) => !this.#stopping && !isKafkaOutage(err),
      onRefused: async (o, err) => {
        const why = refusalOf(err) ?? (err instanceof Error ? `${err.name}: ${err.message}` : String(err));
        const message = `Kafka refused the ${o.outcome ? "reply" : "record"} for ${o.record.topic}: ${why}`;
        const requestId = o.outcome?.outcome.request.request_id;
        const dead = this.#deadLetter(o.source, PUBLISH_REFUSED, message, requestId);
        try {
          await this.#retry("publish", () => this.#o.producer.send([dead]), 3);
          this.#countIfDeadLetter(dead);
        } catch (deadErr) {
          // Nowhere left to put it: say so loudly; the request itself is stored (or was refused before).
          this.#o.onError("publish", deadErr);
        }
        this.#auditDeadLetter(requestId, PUBLISH_REFUSED, message);
      },
    });
    for (const w of written) sent(w.items);
    return published;
  }

  #countIfDeadLetter(record: OutRecord): void {
    if (record.topic !== this.#o.deadLetterTopic) return;
    const reason = record.headers?.[DLQ_HEADERS.errorCode] as DeadLetterCode | undefined;
    if (reason !== undefined) this.#o.events.emit("dead_lettered", { reason });
  }

  #deadLetter(
    source: InRecord,
    code: DeadLetterCode,
    message: string,
    requestId: string | undefined,
  ): OutRecord {
    const record = deadLetterRecord(
      source,
      requestId === undefined ? { code, message } : { code, message, requestId },
      this.#o.deadLetterTopic,
      new Date(),
    );
    return record.value.length > MAX_DEAD_LETTER_VALUE ? { ...record, value: Buffer.alloc(0) } : record;
  }

  #auditDeadLetter(requestId: string | undefined, code: DeadLetterCode, message: string): void {
    this.#o.store.audit.append({
      event: "dead_lettered",
      ...(requestId !== undefined && { requestId }),
      errorCode: code,
      detail: { message: message.slice(0, 500) },
      at: new Date(),
    });
  }

  /** Outages are retried until shutdown, or for `attempts` tries when the caller has a plan B; refusals never. */
  #retry<T>(operation: "store" | "publish", fn: () => Promise<T>, attempts?: number): Promise<T> {
    const outage = operation === "store" ? isStoreOutage : isKafkaOutage;
    return retryThroughOutage(fn, {
      onError: (err) => this.#o.onError(operation, err),
      giveUp: (err) => this.#stopping || !outage(err),
      sleep: this.#o.sleep,
      ...(attempts !== undefined && { attempts }),
    });
  }
}
