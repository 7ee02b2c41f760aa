import { DLQ_HEADERS } from "@chatq/contracts";
import { createMetrics } from "@chatq/telemetry";
import { describe, expect, it } from "vitest";
import { recordMetrics } from "./record-metrics.ts";
import { undecodableBatchEffect } from "./undecodable-batch.ts";
import { WorkerEvents } from "./worker-events.ts";

const marker = {
  topic: "chat.requests",
  partition: 4,
  offset: "120",
  key: null,
  value: Buffer.from("raw batch bytes"),
  headers: {},
  timestampMs: 0,
  undecodable: { lastOffset: "129", reason: "cannot decompress (zstd): Unknown frame descriptor" },
};

describe("undecodableBatchEffect", () => {
  it("dead-letters the batch with its range and reason, audits it and counts it", async () => {
    const metrics = createMetrics();
    const events = new WorkerEvents();
    recordMetrics(events, metrics);
    const logged: object[] = [];
    const effect = undecodableBatchEffect(marker, {
      deadLetterTopic: "chat.requests.dlq",
      events,
      log: { warn: (o) => logged.push(o) },
    });
    if (effect.kind !== "dead_letter") throw new Error(`unexpected effect ${effect.kind}`);
    expect(effect.source).toBe(marker);
    expect(effect.record.topic).toBe("chat.requests.dlq");
    expect(effect.record.value.toString()).toBe("raw batch bytes");
    expect(effect.record.headers).toMatchObject({
      [DLQ_HEADERS.errorCode]: "undecodable_batch",
      [DLQ_HEADERS.sourceTopic]: "chat.requests",
      [DLQ_HEADERS.sourcePartition]: "4",
      [DLQ_HEADERS.sourceOffset]: "120",
      [DLQ_HEADERS.sourceLastOffset]: "129",
    });
    expect(effect.record.headers?.[DLQ_HEADERS.errorMessage]).toContain("Unknown frame descriptor");
    expect(effect.audit).toMatchObject({
      event: "dead_lettered",
      errorCode: "undecodable_batch",
      detail: { topic: "chat.requests", partition: 4, first_offset: "120", last_offset: "129" },
    });
    expect(logged).toEqual([
      expect.objectContaining({ first_offset: "120", last_offset: "129", offsets: 10 }),
    ]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('chatq_undecodable_batches_total{topic="chat.requests"} 1');
    expect(text).toContain('chatq_undecodable_offsets_total{topic="chat.requests"} 10');
    // The dead letter itself is counted when Kafka has it (effects.ts), as every other one.
  });

  it("leaves a batch too large for the DLQ out of the dead letter, keeping the headers", () => {
    const effect = undecodableBatchEffect(
      { ...marker, value: Buffer.alloc(600 * 1024) },
      { deadLetterTopic: "dlq", events: new WorkerEvents(), log: { warn: () => {} } },
    );
    if (effect.kind !== "dead_letter") throw new Error(`unexpected effect ${effect.kind}`);
    expect(effect.record.value.length).toBe(0);
    expect(effect.record.headers?.[DLQ_HEADERS.sourceLastOffset]).toBe("129");
  });
});
