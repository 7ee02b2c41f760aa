import { type ChatReply, ChatReplySchema } from "@chatq/contracts";
import { type BatchConsumer, createBatchConsumer, type Kafka } from "@chatq/kafka";
import { GatewayError } from "./gateway-error.ts";

/**
 * Replies to this replica's requests: the workers publish them to this replica's own reply topic (the request's
 * reply_topic), so whichever replica holds the HTTP connection gets its answer. Waiters are registered before the
 * request is published, so a reply can never arrive before anyone listens.
 */
export class ReplyRouter {
  readonly #waiters = new Map<string, Set<(reply: ChatReply) => void>>();
  readonly #consumer: BatchConsumer;
  #crashed: Error | undefined;

  constructor(kafka: Kafka, opts: { topic: string; groupId: string }) {
    this.#consumer = createBatchConsumer(kafka, {
      groupId: opts.groupId,
      topic: opts.topic,
      fromBeginning: true,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
    });
    this.#consumer.onCrash((err, restart) => {
      if (!restart) this.#crashed = err;
    });
  }

  async start(): Promise<void> {
    await this.#consumer.start((records) => {
      for (const r of records) {
        if (r.value === null) continue;
        let parsed: ReturnType<typeof ChatReplySchema.safeParse>;
        try {
          parsed = ChatReplySchema.safeParse(JSON.parse(r.value.toString("utf8")));
        } catch {
          continue; // not a reply: nothing waits for it
        }
        if (!parsed.success) continue;
        const waiting = this.#waiters.get(parsed.data.request_id);
        if (waiting === undefined) continue; // its caller gave up, or another copy already answered it
        this.#waiters.delete(parsed.data.request_id);
        for (const resolve of waiting) resolve(parsed.data);
      }
    });
    await this.#consumer.joined();
  }

  get healthy(): boolean {
    return this.#crashed === undefined;
  }

  /** How many HTTP calls wait for a reply right now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves with the reply to `requestId`; rejects with reply_timeout after `timeoutMs`, or as soon as `signal`
   * aborts (the client went away). Call before publishing the request.
   */
  expect(
    requestId: string,
    timeoutMs: number,
    signal: AbortSignal,
  ): { reply: Promise<ChatReply>; cancel(): void } {
    let cancel: () => void = () => {};
    const reply = new Promise<ChatReply>((resolve, reject) => {
      let set = this.#waiters.get(requestId);
      if (set === undefined) {
        set = new Set();
        this.#waiters.set(requestId, set);
      }
      const waiters = set;
      const done = (reply: ChatReply) => {
        cleanup();
        resolve(reply);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new GatewayError("reply_timeout", `no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = () => {
        cleanup();
        reject(new GatewayError("request_timeout", "the client went away"));
      };
      const cleanup = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(requestId) === waiters) this.#waiters.delete(requestId);
      };
      cancel = onAbort;
      waiters.add(done);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    // A cancelled wait (the publish failed) rejects a promise nobody awaits any more: that must not crash the
    // process as an unhandled rejection. Whoever awaits it still gets the rejection.
    reply.catch(() => {});
    return { reply, cancel };
  }

  stop(): Promise<void> {
    return this.#consumer.disconnect();
  }
}
