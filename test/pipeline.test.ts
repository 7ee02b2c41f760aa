// The worker's pipeline driven in-process: records go in through onRecords, commits and produced records are
// captured in memory, and everything else is real (Postgres store, the limiter, the openai SDK against the fake
// API). What this file proves: a condition of the whole API or account fails no request, and a rebalance or a
// stop lets go of waiting work at once.
import type { ChatReply, ChatRequest } from "@chatq/contracts";
import { type FakeOpenAI, startFakeOpenAI } from "@chatq/fake-openai";
import type { InRecord, OutRecord, RecordProducer, TopicPartitionOffset } from "@chatq/kafka";
import { createChatClient, DEFAULT_RETRY_POLICY } from "@chatq/llm";
import { createRateLimiter, type RateLimiter } from "@chatq/ratelimit";
import { createStore, migrate, type Store } from "@chatq/store";
import { createLogger } from "@chatq/telemetry";
import { ApiGates, Pipeline, WorkerEvents } from "@chatq/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { type Scenario, uniqueScenario } from "./harness/scenario.ts";

const KEY = "sk-pipeline-test";
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/** A pipeline on in-memory Kafka ports and real everything else. */
async function pipelineFor(s: Scenario, fake: FakeOpenAI, opts: { rpm?: number; maxInFlight?: number } = {}) {
  const storeOptions = { databaseUrl: s.services.databaseUrl, schema: s.schema, poolSize: 4 };
  await migrate(storeOptions);
  const store: Store = await createStore({ ...storeOptions, onError: () => {} });
  const produced: OutRecord[] = [];
  const commits: TopicPartitionOffset[] = [];
  const producer: RecordProducer = {
    async send(records) {
      produced.push(...records);
    },
    async disconnect() {},
  };
  const limiter: RateLimiter = await createRateLimiter({
    limits: { default: { rpm: opts.rpm ?? 0, tpm: 0 } },
    burstSliceMs: 1000,
  });
  const client = createChatClient({ apiKey: KEY, baseURL: fake.url });
  const events = new WorkerEvents();
  const circuits: string[] = [];
  events.on("circuit_changed", (e) => circuits.push(`${e.circuit} ${e.state}`));
  const now = () => performance.now();
  const gates = new ApiGates({
    probeAccount: () => client.probe(2000),
    accountMaxOpenMs: 500,
    modelMaxOpenMs: 500,
    now,
    sleep,
    random: Math.random,
    onChange: (circuit, state, info) => events.emit("circuit_changed", { circuit, state, ...info }),
  });
  const pipeline = new Pipeline(
    {
      consumer: { pause() {}, resume() {}, commit: async (o) => void commits.push(...o) },
      store,
      producer,
      limiter,
      client,
      gates,
      events,
      log: createLogger({ name: "pipeline-test", level: "silent" }),
      now,
      sleep,
      random: Math.random,
    },
    {
      topics: s.topics,
      decode: { maxBytes: 64 * 1024 },
      defaultModel: "gpt-4o-mini",
      maxInFlight: opts.maxInFlight ?? 500,
      historyMaxMessages: 20,
      retry: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 20, maxDelayMs: 200 },
      timeoutMs: 5000,
    },
  );
  const replies = () =>
    produced.filter((r) => r.topic === s.topics.replies).map((r) => JSON.parse(String(r.value)) as ChatReply);
  const committedTo = (partition: number) =>
    Math.max(-1, ...commits.filter((c) => c.partition === partition).map((c) => Number(c.offset)));
  return {
    pipeline,
    limiter,
    events,
    circuits,
    replies,
    committedTo,
    async waitForReplies(n: number, timeoutMs = 60_000) {
      await until(
        () => new Set(replies().map((r) => r.request_id)).size >= n,
        timeoutMs,
        () => {
          return `only ${new Set(replies().map((r) => r.request_id)).size} of ${n} requests answered`;
        },
      );
    },
    async close() {
      await pipeline.stop(performance.now() + 2000, performance.now() + 5000);
      await limiter.close();
      await store.close();
    },
  };
}

/** Requests as Kafka records: `conversations` keys spread over `partitions` partitions, in offset order. */
function records(s: Scenario, n: number, o: { partitions: number; conversations: number; text?: string }) {
  const next = new Map<number, number>();
  const out: InRecord[] = [];
  const requests: ChatRequest[] = [];
  for (let i = 0; i < n; i++) {
    const conversation = i % o.conversations;
    const partition = conversation % o.partitions;
    const offset = next.get(partition) ?? 0;
    next.set(partition, offset + 1);
    const request: ChatRequest = {
      request_id: `${s.id}-${i}`,
      conversation_id: `${s.id}-c${conversation}`,
      messages: [{ role: "user", content: `${o.text ?? "hello"} ${i}` }],
    };
    requests.push(request);
    out.push({
      topic: s.topics.requests,
      partition,
      offset: String(offset),
      key: Buffer.from(request.conversation_id as string),
      value: Buffer.from(JSON.stringify(request)),
      headers: {},
      timestampMs: Date.now(),
    });
  }
  return { records: out, requests, ends: next };
}

async function until(cond: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the pipeline, in-process", () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 30 });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it("an API outage under load fails nothing: calls wait behind the open circuit and resume when it closes", async () => {
    const s = uniqueScenario("pipe_outage");
    fake.configure({ errorRate: 0, apiKey: KEY });
    const p = await pipelineFor(s, fake);
    const db = scenarioDb(s);
    try {
      p.pipeline.onAssignment([0, 1, 2, 3]);
      const load = records(s, 400, { partitions: 4, conversations: 80 });
      p.pipeline.onRecords(load.records.slice(0, 200));
      await p.waitForReplies(50);
      // Every call now fails with a 5xx, as in a provider incident, for longer than any quick retry lasts.
      fake.configure({ errorRate: 1 });
      p.pipeline.onRecords(load.records.slice(200));
      await until(
        () => p.circuits.includes("gpt-4o-mini open"),
        10_000,
        () => "the circuit never opened",
      );
      await sleep(3000);
      fake.configure({ errorRate: 0 });
      await p.waitForReplies(load.requests.length);

      const replies = p.replies();
      expect(replies.filter((r) => r.status !== "completed")).toEqual([]);
      expect(new Set(replies.map((r) => r.request_id)).size).toBe(load.requests.length);
      const [stored] = await db.query<{ n: string; completed: string }>(
        "select count(*) as n, count(*) filter (where status = 'completed') as completed from replies",
      );
      expect(stored).toEqual({ n: "400", completed: "400" });
      expect(p.circuits).toContain("gpt-4o-mini closed");
      // Nothing is left uncommitted: every partition's commit is at its end.
      for (const [partition, end] of load.ends)
        await until(
          () => p.committedTo(partition) === end,
          5000,
          () => `partition ${partition} not committed to ${end}`,
        );
    } finally {
      fake.configure({ errorRate: 0 });
      await p.close();
      await db.drop();
    }
  });

  it("a rejected key fails nothing: requests wait behind the account gate and finish once the key works", async () => {
    const s = uniqueScenario("pipe_key");
    fake.configure({ errorRate: 0, apiKey: KEY });
    const p = await pipelineFor(s, fake);
    const db = scenarioDb(s);
    try {
      p.pipeline.onAssignment([0, 1]);
      const load = records(s, 200, { partitions: 2, conversations: 40 });
      p.pipeline.onRecords(load.records.slice(0, 100));
      await p.waitForReplies(20);
      fake.configure({ apiKey: "sk-rotated" });
      p.pipeline.onRecords(load.records.slice(100));
      await until(
        () => p.circuits.includes("account open"),
        10_000,
        () => "the account gate never closed",
      );
      await sleep(2000);
      fake.configure({ apiKey: KEY });
      await p.waitForReplies(load.requests.length);
      expect(p.replies().filter((r) => r.status !== "completed")).toEqual([]);
      expect(p.circuits).toContain("account closed");
    } finally {
      fake.configure({ apiKey: KEY });
      await p.close();
      await db.drop();
    }
  });

  it("a lost partition's work waiting for budget lets go at once, and none of it reaches the API", async () => {
    const s = uniqueScenario("pipe_rebalance");
    fake.configure({ errorRate: 0, apiKey: KEY });
    fake.resetStats();
    // 60 RPM in 1 s slices: one call a second, so nearly all of the load waits for budget.
    const p = await pipelineFor(s, fake, { rpm: 60 });
    try {
      p.pipeline.onAssignment([0, 1]);
      const load = records(s, 40, { partitions: 2, conversations: 40 });
      p.pipeline.onRecords(load.records);
      await p.waitForReplies(1);
      await until(
        () => p.limiter.queued() >= 30,
        5000,
        () => `only ${p.limiter.queued()} waiting for budget`,
      );
      const waitingBefore = p.limiter.queued();
      p.pipeline.onAssignment([0]);
      // At once: partition 1's waiters left the limiter's queue in the same tick.
      const waitingAfter = p.limiter.queued();
      expect(waitingAfter).toBeLessThan(waitingBefore);
      expect(waitingAfter).toBeLessThanOrEqual(load.requests.filter((_, i) => i % 2 === 0).length);
      await sleep(2500);
      const called = Object.keys(fake.stats().completions_by_client_request_id);
      const lostAfterwards = called.filter((id) => Number(id.split("-").pop()) % 2 === 1);
      // At most the one call that was already granted when the partition moved.
      expect(lostAfterwards.length).toBeLessThanOrEqual(1);
    } finally {
      await p.close();
    }
  });
});
