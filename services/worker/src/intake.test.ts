import type { InRecord } from "@chatq/kafka";
import { type Admission, type ReceivedRequest, StoreError } from "@chatq/store";
import { describe, expect, it } from "vitest";
import type { Effect } from "./effects.ts";
import { type IntakeDeps, intake } from "./intake.ts";
import type { Job } from "./job.ts";
import { isStoreOutage, retryThroughOutage } from "./retry-through-outage.ts";
import { WorkerEvents } from "./worker-events.ts";

// An in-memory stand-in for the store; the worker's real retry rule (outages waited out, refusals not).
function harness(admit: (batch: ReceivedRequest[]) => Promise<Map<string, Admission>>) {
  const effects: Effect[] = [];
  const scheduled: Job[] = [];
  let storeCalls = 0;
  const deps: IntakeDeps = {
    limits: { maxBytes: 4096 },
    defaultModel: "gpt-4o-mini",
    topics: { replies: "replies", deadLetter: "dlq" },
    store: {
      admit: (batch) => {
        storeCalls++;
        return admit(batch);
      },
    },
    events: new WorkerEvents(),
    withStoreRetry: (fn) =>
      retryThroughOutage(fn, {
        onError: () => {},
        giveUp: (err) => !isStoreOutage(err),
        sleep: async () => {},
      }),
    leaseFor: () => new AbortController().signal,
    pushEffect: (e) => effects.push(e),
    schedule: (job) => scheduled.push(job),
    now: () => 0,
    log: { warn: () => {} },
  };
  const deadLetters = () =>
    effects.flatMap((e) => (e.kind === "rejection" ? [[e.source.offset, e.rejected.code] as const] : []));
  return { deps, effects, scheduled, deadLetters, storeCalls: () => storeCalls };
}

const record = (offset: number, id: string): InRecord => ({
  topic: "requests",
  partition: 0,
  offset: String(offset),
  key: null,
  value: Buffer.from(JSON.stringify({ request_id: id, messages: [{ role: "user", content: "hi" }] })),
  headers: {},
  timestampMs: 0,
});
const batch = (n: number) => Array.from({ length: n }, (_, i) => record(i, `r-${i}`));
const allNew = async (b: ReceivedRequest[]) =>
  new Map<string, Admission>(b.map((r) => [r.request.request_id, { state: "new" }]));
const ids = (jobs: Job[]) => jobs.map((j) => j.request.request_id);

describe("intake", () => {
  it("dead-letters a message whose handling throws as intake_error, and goes on with the rest", async () => {
    const h = harness(allNew);
    h.deps.schedule = (job) => {
      if (job.request.request_id === "r-1") throw new TypeError("a bug met by r-1 only");
      h.scheduled.push(job);
    };
    await intake(batch(3), h.deps);
    expect(ids(h.scheduled)).toEqual(["r-0", "r-2"]);
    expect(h.deadLetters()).toEqual([["1", "intake_error"]]);
    const dead = h.effects[0];
    expect(dead?.kind === "rejection" && dead.rejected.message).toContain("TypeError: a bug met by r-1 only");
    // The fault is chatq's: no rejected reply and no request row, so a replay after the fix is processed afresh.
    expect(dead?.kind === "rejection" && dead.rejected.requestId).toBeUndefined();
    expect(dead?.kind === "rejection" && dead.records.map((r) => r.topic)).toEqual(["dlq"]);
  });

  it("dead-letters a message whose decoding step throws, before the batch is admitted", async () => {
    const h = harness(allNew);
    let calls = 0;
    h.deps.now = () => {
      if (++calls === 2) throw new RangeError("clock broke");
      return 0;
    };
    await intake(batch(3), h.deps);
    expect(ids(h.scheduled)).toEqual(["r-0", "r-2"]);
    expect(h.deadLetters()).toEqual([["1", "intake_error"]]);
  });

  it("isolates a batch admit that throws a bug: the rows it breaks on are intake_error, the rest admitted", async () => {
    const h = harness(async (b) => {
      if (b.some((r) => r.request.request_id === "r-2"))
        throw new RangeError("Maximum call stack size exceeded");
      return allNew(b);
    });
    await intake(batch(4), h.deps);
    expect(ids(h.scheduled)).toEqual(["r-0", "r-1", "r-3"]);
    expect(h.deadLetters()).toEqual([["2", "intake_error"]]);
    // Once for the batch, once per request: a bug is never retried as if it were an outage.
    expect(h.storeCalls()).toBe(5);
  });

  it("dead-letters a request the database refuses for good as store_refused", async () => {
    const h = harness(async (b) => {
      if (b.some((r) => r.request.request_id === "r-0")) {
        throw new StoreError("value too long", { code: "query", retryable: false, operation: "admit" });
      }
      return allNew(b);
    });
    await intake(batch(2), h.deps);
    expect(ids(h.scheduled)).toEqual(["r-1"]);
    expect(h.deadLetters()).toEqual([["0", "store_refused"]]);
  });

  it("waits out an outage instead of dead-lettering anything", async () => {
    let failures = 3;
    const h = harness(async (b) => {
      if (failures-- > 0)
        throw new StoreError("ECONNREFUSED", { code: "connection", retryable: true, operation: "admit" });
      return allNew(b);
    });
    await intake(batch(3), h.deps);
    expect(ids(h.scheduled)).toEqual(["r-0", "r-1", "r-2"]);
    expect(h.deadLetters()).toEqual([]);
    expect(h.storeCalls()).toBe(4);
  });

  it("rethrows an outage that lasts until the worker stops: the batch is redelivered, nothing dead-lettered", async () => {
    const h = harness(async () => {
      throw new StoreError("ECONNREFUSED", { code: "connection", retryable: true, operation: "admit" });
    });
    h.deps.withStoreRetry = (fn) =>
      retryThroughOutage(fn, { onError: () => {}, giveUp: () => true, sleep: async () => {} });
    await expect(intake(batch(2), h.deps)).rejects.toBeInstanceOf(StoreError);
    expect(h.deadLetters()).toEqual([]);
  });

  it("refuses bad messages with their decoder code and admits the good ones around them", async () => {
    const h = harness(allNew);
    const deep = {
      ...record(1, "x"),
      value: Buffer.from(`{"request_id":"deep","metadata":{"a":${"[".repeat(5000)}${"]".repeat(5000)}}}`),
    };
    await intake([record(0, "r-0"), deep, record(2, "r-2")], { ...h.deps, limits: { maxBytes: 1e6 } });
    expect(ids(h.scheduled)).toEqual(["r-0", "r-2"]);
    expect(h.deadLetters()).toEqual([["1", "too_deep"]]);
  });
});
