import { DLQ_HEADERS } from "@chatq/contracts";
import type { FakeOpenAI } from "@chatq/fake-openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka } from "./harness/kafka-io.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { getJson, metricValue, spawnWorker } from "./harness/worker-process.ts";

const user = (content: string) => [{ role: "user" as const, content }];

describe("the worker with bad input and a failing API", () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startTestFake({ latencyMs: 20 });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it("sends every kind of bad input to the DLQ with its reason while the good messages around it are answered", async () => {
    const s = uniqueScenario("bad");
    const kafka = testKafka(s);
    await createTopics(kafka, s, 1); // one partition: the bad messages sit between the good ones
    const dlq = await collect(kafka, s.topics.deadLetter, s.id);
    const replies = await collect(kafka, s.topics.replies, s.id);
    const publisher = await requestPublisher(kafka, s);
    const good = (i: number) => ({
      key: `good-${i}`,
      value: JSON.stringify({ request_id: `${s.id}-good-${i}`, messages: user(`hi ${i}`) }),
    });
    const bad: { reason: string; key: string; value: Buffer | string | null; requestId?: string }[] = [
      { reason: "not_json", key: "b1", value: "{this is not json" },
      { reason: "not_utf8", key: "b2", value: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
      { reason: "schema", key: "b3", value: JSON.stringify({ messages: user("no request id") }) },
      {
        reason: "oversize",
        key: "b4",
        value: JSON.stringify({ request_id: `${s.id}-big`, messages: user("x".repeat(5000)) }),
      },
      {
        reason: "bad_role",
        key: "b5",
        requestId: `${s.id}-role`,
        value: JSON.stringify({ request_id: `${s.id}-role`, messages: [{ role: "wizard", content: "hi" }] }),
      },
      {
        reason: "empty_messages",
        key: "b6",
        requestId: `${s.id}-empty`,
        value: JSON.stringify({ request_id: `${s.id}-empty`, messages: [] }),
      },
      {
        reason: "unknown_model",
        key: "b7",
        requestId: `${s.id}-model`,
        value: JSON.stringify({ request_id: `${s.id}-model`, model: "gpt-9-ultra", messages: user("hi") }),
      },
      { reason: "missing_value", key: "b8", value: null },
      {
        reason: "bad_reply_topic",
        key: "b9",
        requestId: `${s.id}-topic`,
        value: JSON.stringify({
          request_id: `${s.id}-topic`,
          reply_topic: "someone.elses.topic",
          messages: user("hi"),
        }),
      },
    ];
    const messages = [good(0), ...bad.flatMap((b, i) => [{ key: b.key, value: b.value }, good(i + 1)])];
    await publisher.publishRaw(messages);

    const worker = spawnWorker(s, fake.url, {
      REQUEST_MAX_BYTES: "2048",
      OPENAI_ALLOWED_MODELS: "gpt-4o-mini,gpt-4o",
    });
    const db = scenarioDb(s);
    try {
      const metricsUrl = await worker.metricsUrl;
      await dlq.waitFor(bad.length);
      // The good ones, plus a rejected reply for each bad one that carried a request_id.
      await replies.waitFor(bad.length + 1 + bad.filter((b) => b.requestId).length);

      // Each bad message is on the DLQ, unchanged, with why and where it came from.
      const byKey = new Map(dlq.seen.map((m) => [m.key, m]));
      for (const b of bad) {
        const m = byKey.get(b.key);
        expect(m, b.reason).toBeDefined();
        expect(m?.headers[DLQ_HEADERS.errorCode]).toBe(b.reason);
        expect(m?.headers[DLQ_HEADERS.errorMessage]?.length).toBeGreaterThan(5);
        expect(m?.headers[DLQ_HEADERS.sourceTopic]).toBe(s.topics.requests);
        expect(m?.headers[DLQ_HEADERS.sourceOffset]).toMatch(/^\d+$/);
        const original = b.value === null ? Buffer.alloc(0) : Buffer.from(b.value);
        expect(Buffer.compare(m?.value ?? Buffer.alloc(0), original), `${b.reason} bytes unchanged`).toBe(0);
      }

      // The good messages around them were answered; producers of bad ones with an id were told.
      const got = replies.replies();
      const completed = got.filter((r) => r.status === "completed").map((r) => r.request_id);
      expect(completed.sort()).toEqual(
        Array.from({ length: bad.length + 1 }, (_, i) => `${s.id}-good-${i}`).sort(),
      );
      const rejected = got.filter((r) => r.status === "rejected");
      expect(Object.fromEntries(rejected.map((r) => [r.request_id, r.error?.code]))).toEqual(
        Object.fromEntries(bad.filter((b) => b.requestId).map((b) => [b.requestId, b.reason])),
      );

      // Every refusal is audited and counted.
      const audit = await db.query<{ event: string; n: string }>(
        "select event, count(*) as n from audit_log where event in ('rejected', 'dead_lettered') group by event",
      );
      expect(Object.fromEntries(audit.map((a) => [a.event, Number(a.n)]))).toEqual({
        rejected: bad.length,
        dead_lettered: bad.length,
      });
      for (const b of bad) {
        expect(
          await metricValue(metricsUrl, "chatq_dead_letters_total", { reason: b.reason }),
          b.reason,
        ).toBe(1);
      }
      expect(await worker.stop()).toBe(0);
    } finally {
      await worker.stop("SIGKILL");
      await Promise.all([dlq.close(), replies.close(), publisher.close()]);
      await db.drop();
    }
  });

  it("retries transient 5xx and 429 until they succeed, and fails a permanent 400 at once", async () => {
    const s = uniqueScenario("retry");
    const kafka = testKafka(s);
    await createTopics(kafka, s);
    const replies = await collect(kafka, s.topics.replies, s.id);
    const publisher = await requestPublisher(kafka, s);
    await publisher.publish([
      { request_id: `${s.id}-503`, messages: user(`${s.id} [[fail:503x2]] please`) },
      { request_id: `${s.id}-429`, messages: user(`${s.id} [[fail:429x1]] please`) },
      { request_id: `${s.id}-500`, messages: user(`${s.id} [[fail:500x1]] please`) },
      { request_id: `${s.id}-400`, messages: user(`${s.id} [[fail:400]] please`) },
    ]);
    const worker = spawnWorker(s, fake.url, { OPENAI_RETRY_BASE_MS: "50", OPENAI_RETRY_MAX_MS: "500" });
    const db = scenarioDb(s);
    try {
      const metricsUrl = await worker.metricsUrl;
      await replies.waitFor(4);
      const byId = new Map(replies.replies().map((r) => [r.request_id, r]));
      expect(byId.get(`${s.id}-503`)).toMatchObject({ status: "completed", attempts: 3 });
      expect(byId.get(`${s.id}-429`)).toMatchObject({ status: "completed", attempts: 2 });
      expect(byId.get(`${s.id}-500`)).toMatchObject({ status: "completed", attempts: 2 });
      expect(byId.get(`${s.id}-400`)).toMatchObject({
        status: "failed",
        attempts: 1,
        error: { code: "bad_request", retryable: false },
      });
      const failures = await db.query<{ request_id: string; http_status: number; error_code: string }>(
        "select request_id, http_status, error_code from audit_log where event = 'attempt_failed' order by request_id, at",
      );
      expect(failures.map((f) => [f.request_id.slice(s.id.length + 1), f.http_status, f.error_code])).toEqual(
        [
          ["400", 400, "bad_request"],
          ["429", 429, "rate_limited"],
          ["500", 500, "server_error"],
          ["503", 503, "server_error"],
          ["503", 503, "server_error"],
        ],
      );
      expect(await metricValue(metricsUrl, "chatq_retries_total", { reason: "server_error" })).toBe(3);
      expect(await metricValue(metricsUrl, "chatq_openai_rate_limited_total")).toBe(1);
      expect(await worker.stop()).toBe(0);
    } finally {
      await worker.stop("SIGKILL");
      await Promise.all([replies.close(), publisher.close()]);
      await db.drop();
    }
  });

  it("pauses on a rejected API key, reports unready, dead-letters nothing, and finishes the backlog once the key works", async () => {
    const s = uniqueScenario("auth");
    const kafka = testKafka(s);
    await createTopics(kafka, s);
    const replies = await collect(kafka, s.topics.replies, s.id);
    const dlq = await collect(kafka, s.topics.deadLetter, s.id);
    const publisher = await requestPublisher(kafka, s);
    fake.configure({ apiKey: "sk-rotated-elsewhere" });
    const requests = Array.from({ length: 50 }, (_, i) => ({
      request_id: `${s.id}-${i}`,
      messages: user(`hello ${i}`),
    }));
    await publisher.publish(requests);
    const worker = spawnWorker(s, fake.url, { AUTH_PROBE_MAX_INTERVAL_MS: "500" });
    try {
      const metricsUrl = await worker.metricsUrl;
      // Paused for auth, and /readyz says why.
      await until(
        async () => (await metricValue(metricsUrl, "chatq_consumption_paused", { reason: "auth" })) === 1,
      );
      const ready = await getJson(`${metricsUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ checks: { auth: { ok: false } } });
      expect(replies.seen).toHaveLength(0);

      fake.configure({ apiKey: "sk-chatq-test" });
      await replies.waitFor(requests.length);
      expect(replies.replies().every((r) => r.status === "completed")).toBe(true);
      expect(dlq.seen).toHaveLength(0);
      expect(await metricValue(metricsUrl, "chatq_consumption_paused", { reason: "auth" })).toBe(0);
      expect((await getJson(`${metricsUrl}/readyz`)).status).toBe(200);
      expect(await worker.stop()).toBe(0);
    } finally {
      fake.configure({ apiKey: "sk-chatq-test" });
      await worker.stop("SIGKILL");
      await Promise.all([replies.close(), dlq.close(), publisher.close()]);
      await scenarioDb(s).drop();
    }
  });
});

async function until(cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 200));
  }
}
