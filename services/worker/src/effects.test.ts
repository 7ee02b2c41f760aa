import type { InRecord, OutRecord, RecordProducer } from "@chatq/kafka";
import { type Outcome, type Store, StoreError } from "@chatq/store";
import { describe, expect, it } from "vitest";
import { Effects } from "./effects.ts";
import { WorkerEvents } from "./worker-events.ts";

// In-memory stand-ins for chatq's own Store and RecordProducer interfaces: what is under test is the order and
// batching of effects, not Postgres or Kafka (those are covered by the integration tests).
function harness(opts: { refuse?: (ids: string[]) => boolean; kafkaRefuses?: string } = {}) {
  const log: string[] = [];
  const audits: string[] = [];
  const store = {
    async complete(outcomes: Outcome[]) {
      const ids = outcomes.map((o) => o.request.request_id);
      if (opts.refuse?.(ids)) {
        throw new StoreError("value out of range", {
          code: "query",
          retryable: false,
          operation: "complete",
        });
      }
      log.push(`store ${ids.join(",")}`);
      return { inserted: new Set(ids) };
    },
    async reject() {},
    audit: {
      append: (e: { event: string; requestId?: string }) => audits.push(`${e.event} ${e.requestId}`),
      flush: async () => {},
    },
    async findReply() {
      return undefined;
    },
  } as unknown as Store;
  const producer: RecordProducer = {
    async send(records: readonly OutRecord[]) {
      if (records.some((r) => r.key === opts.kafkaRefuses)) {
        throw Object.assign(new Error("retries exceeded"), { cause: { type: "MESSAGE_TOO_LARGE" } });
      }
      log.push(`publish ${records.map((r) => `${r.topic}:${r.key}`).join(",")}`);
    },
    async disconnect() {},
  };
  const events = new WorkerEvents();
  const counted: string[] = [];
  events.on("dead_lettered", ({ reason }) => counted.push(`dead_lettered ${reason}`));
  events.on("republished", () => counted.push("republished"));
  const effects = new Effects({
    events,
    store,
    producer,
    deadLetterTopic: "dlq",
    onDone: (sources) => log.push(`done ${sources.map((s) => s.offset).join(",")}`),
    onError: () => {},
    sleep: async () => {},
  });
  return { effects, log, audits, counted };
}

const source = (offset: number): InRecord => ({
  topic: "req",
  partition: 0,
  offset: String(offset),
  key: null,
  value: Buffer.from("{}"),
  headers: {},
  timestampMs: 0,
});

const outcome = (id: string, offset: number) => ({
  kind: "outcome" as const,
  source: source(offset),
  outcome: { request: { request_id: id, messages: [] } } as unknown as Outcome,
  reply: { topic: "replies", key: id, value: "{}" },
});

describe("Effects", () => {
  it("stores a batch, then publishes its replies, then releases its offsets — in one round trip each", async () => {
    const { effects, log } = harness();
    await Promise.all([
      effects.push(outcome("a", 1)),
      effects.push(outcome("b", 2)),
      effects.push(outcome("c", 3)),
    ]);
    expect(log).toEqual(["store a,b,c", "publish replies:a,replies:b,replies:c", "done 1,2,3"]);
  });

  it("a row the database refuses for good goes to the DLQ; the rest of its batch is stored and answered", async () => {
    const { effects, log, audits, counted } = harness({ refuse: (ids) => ids.includes("bad") });
    await Promise.all([
      effects.push(outcome("a", 1)),
      effects.push(outcome("bad", 2)),
      effects.push(outcome("c", 3)),
    ]);
    expect(log).toEqual(["store a", "store c", "publish replies:a,dlq:null,replies:c", "done 1,2,3"]);
    expect(audits).toEqual(["dead_lettered bad"]);
    expect(counted).toEqual(["dead_lettered store_refused"]);
  });

  it("a reply Kafka refuses for good is dead-lettered; the other replies of its batch go out", async () => {
    const { effects, log, audits, counted } = harness({ kafkaRefuses: "big" });
    const published = await Promise.all([effects.push(outcome("a", 1)), effects.push(outcome("big", 2))]);
    expect(log).toEqual(["store a,big", "publish replies:a", "publish dlq:null", "done 1,2"]);
    expect(audits).toEqual(["dead_lettered big"]);
    expect(published).toEqual(["{}", undefined]);
    expect(counted).toEqual(["dead_lettered publish_refused"]);
  });

  it("a stored reply published again is counted as republished, in the same round trips as the rest", async () => {
    const { effects, log, counted } = harness();
    await Promise.all([
      effects.push(outcome("a", 1)),
      effects.push({
        kind: "republish",
        source: source(2),
        audit: { event: "reply_republished", requestId: "b", at: new Date() },
        reply: { topic: "replies", key: "b", value: "{}" },
      }),
    ]);
    expect(log).toEqual(["store a", "publish replies:b,replies:a", "done 1,2"]);
    expect(counted).toEqual(["republished"]);
  });
});
