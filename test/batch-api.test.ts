import type { ChatReply, ChatRequest } from "@chatq/contracts";
import type { FakeOpenAI } from "@chatq/fake-openai";
import { costOf, defaultPriceTable } from "@chatq/llm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka, until } from "./harness/kafka-io.ts";
import { encryptionEnv, newMasterKey } from "./harness/protection.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { spawnWorker } from "./harness/worker-process.ts";

// The Batch API path against the fake's Files and Batches endpoints, sped up by its time scale: a batch of 1,000
// takes a few seconds instead of hours. Real Kafka, Postgres, Redis and worker processes.

let fake: FakeOpenAI;
let admin: string;
beforeAll(async () => {
  fake = await startTestFake({ batches: { time_scale: 100 } });
  admin = fake.url.replace(/\/v1$/, "");
});
afterAll(async () => {
  await fake?.close();
});

const BATCH_ENV = {
  // Encryption at rest on, as deployed: batch files are built from the stored (sealed) requests.
  ...encryptionEnv(newMasterKey()),
  BATCH_MODE: "batch_api",
  BATCH_MAX_REQUESTS: "1000",
  BATCH_MAX_WAIT_MS: "300",
  BATCH_POLL_MIN_MS: "200",
  BATCH_POLL_MAX_MS: "1000",
  BATCH_LEASE_MS: "3000",
};

async function fakeAdmin(path: string, body: unknown = {}): Promise<unknown> {
  const res = await fetch(`${admin}${path}`, { method: "POST", body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return res.json();
}

async function fakeBatches(): Promise<
  { id: string; status: string; request_counts: { completed: number } }[]
> {
  const all = [];
  let after: string | undefined;
  for (;;) {
    const res = await fetch(`${fake.url}/batches?limit=100${after ? `&after=${after}` : ""}`, {
      headers: { authorization: "Bearer sk-chatq-test" },
    });
    const page = (await res.json()) as {
      data: { id: string; status: string; request_counts: { completed: number } }[];
      has_more: boolean;
      last_id: string;
    };
    all.push(...page.data);
    if (!page.has_more) return all;
    after = page.last_id;
  }
}

function batchRequests(prefix: string, n: number): ChatRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    request_id: `${prefix}-${i}`,
    tenant: "reprocess",
    priority: "batch" as const,
    messages: [{ role: "user" as const, content: `classify ticket ${i}` }],
  }));
}

it("5,000 batch-priority requests go out as files and batches, offsets are committed before the batches end, a worker killed mid-batch is taken over, and each is answered once at the batch price", async () => {
  const s = uniqueScenario("batch_api");
  const kafka = testKafka(s);
  await createTopics(kafka, s);
  const replies = await collect(kafka, s.topics.replies, s.id);
  const publisher = await requestPublisher(kafka, s);
  const db = scenarioDb(s);
  const requests = batchRequests(s.id, 5000);
  // Slow while the first worker hands the batches over (a batch of 1,000 takes ~26 s): none ends before the kill.
  await fakeAdmin("/_fake/batches/config", { time_scale: 10 });
  fake.resetStats();
  const first = spawnWorker(s, fake.url, BATCH_ENV);
  let second: ReturnType<typeof spawnWorker> | undefined;
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  try {
    await first.metricsUrl;
    await publisher.publish(requests);

    // Every request is in a batch, and the partitions are committed to the end while the batches still run.
    await until(
      () => first.logs.filter((l) => l.msg === "batch submitted").length >= 5,
      60_000,
      () => "the batches were not submitted",
    );
    const committed = async () => {
      const [t] = await kafkaAdmin.fetchOffsets({ groupId: s.groupId, topics: [s.topics.requests] });
      return (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    };
    let offsets = await committed();
    for (const deadline = Date.now() + 30_000; offsets < 5000 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 200));
      offsets = await committed();
    }
    expect(offsets).toBe(5000);
    const running = await fakeBatches();
    expect(running.filter((b) => b.status === "completed")).toHaveLength(0);
    const [members] = await db.query<{ n: string }>("select count(*) as n from batch_members");
    expect(members?.n).toBe("5000");

    // Killed mid-batch: a second worker takes the batches up once the first one's leases run out — even one
    // whose batch_mode is back at sync (it sends no new work to batches, but finishes the open ones).
    first.proc.kill("SIGKILL");
    await first.exited;
    second = spawnWorker(s, fake.url, { ...BATCH_ENV, BATCH_MODE: "sync" });
    const secondStarted = second.metricsUrl;
    secondStarted.catch(() => {}); // awaited below; a failure before then must not surface as unhandled
    await fakeAdmin("/_fake/batches/config", { time_scale: 400 });
    await replies.waitForRequests(5000, 120_000);
    await new Promise((r) => setTimeout(r, 1000));

    const ids = replies.replies().map((r) => r.request_id);
    expect(new Set(ids).size).toBe(5000);
    expect(ids).toHaveLength(5000); // nothing published twice
    expect(replies.replies().every((r) => r.status === "completed")).toBe(true);
    const [stored] = await db.query<{ replies: string; distinct_ids: string }>(
      "select count(*) as replies, count(distinct request_id) as distinct_ids from replies",
    );
    expect(stored).toEqual({ replies: "5000", distinct_ids: "5000" });
    // No synchronous call: every answer came from a batch output file.
    expect(fake.stats().completions_total).toBe(0);
    const batches = (await fakeBatches()).filter((b) => b.status === "completed");
    expect(batches.length).toBeGreaterThanOrEqual(5);
    const [open] = await db.query<{ n: string }>(
      "select count(*) as n from batch_members where settled_at is null",
    );
    expect(open?.n).toBe("0");

    // Cost at the batch price: half the list price for gpt-4o-mini.
    const [usage] = await db.query<{
      model: string;
      prompt_tokens: number;
      completion_tokens: number;
      cost_usd: string;
    }>("select model, prompt_tokens, completion_tokens, cost_usd from usage limit 1");
    const u = usage as NonNullable<typeof usage>;
    const batchCost = costOf(defaultPriceTable(), u.model, {
      prompt_tokens: u.prompt_tokens,
      completion_tokens: u.completion_tokens,
      batch: true,
    }) as number;
    // cost_usd is numeric(12, 6): stored to the micro-dollar.
    expect(Math.abs(Number(u.cost_usd) - batchCost)).toBeLessThanOrEqual(0.0000005 + 1e-12);
    const listCost = costOf(defaultPriceTable(), u.model, {
      prompt_tokens: u.prompt_tokens,
      completion_tokens: u.completion_tokens,
    }) as number;
    expect(Number(u.cost_usd)).toBeLessThan(listCost);
    // It joins the group once the killed member's session has expired; the batches did not wait for that.
    await secondStarted;
    expect(await second.stop()).toBe(0);
  } finally {
    await first.stop("SIGKILL");
    await second?.stop("SIGKILL");
    await kafkaAdmin.disconnect();
    await Promise.all([replies.close(), publisher.close()]);
    await db.drop();
  }
});

it("an expired batch's unanswered requests are resubmitted in a new batch and answered; past the deadline they fail with batch_deadline_exceeded", async () => {
  const s = uniqueScenario("batch_expiry");
  const kafka = testKafka(s);
  await createTopics(kafka, s);
  const replies = await collect(kafka, s.topics.replies, s.id);
  const publisher = await requestPublisher(kafka, s);
  const db = scenarioDb(s);
  // Slow enough to catch the batch part-way.
  await fakeAdmin("/_fake/batches/config", { time_scale: 20 });
  await publisher.publish(batchRequests(s.id, 300));
  const worker = spawnWorker(s, fake.url, {
    ...BATCH_ENV,
    BATCH_MAX_REQUESTS: "300",
    BATCH_MAX_WAIT_MS: "3000",
  });
  try {
    await worker.metricsUrl;
    let mine: { id: string; status: string; request_counts: { completed: number } } | undefined;
    await until(
      () => worker.logs.some((l) => l.msg === "batch submitted"),
      30_000,
      () => "no batch submitted",
    );
    const submitted = worker.logs.find((l) => l.msg === "batch submitted") as {
      openai_batch_id: string;
      requests: number;
    };
    expect(submitted.requests).toBe(300);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      mine = (await fakeBatches()).find((b) => b.id === submitted.openai_batch_id);
      if ((mine?.request_counts.completed ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const expired = (await fakeAdmin(`/_fake/batches/${submitted.openai_batch_id}/expire`)) as {
      status: string;
      request_counts: { completed: number; total: number };
    };
    expect(expired.status).toBe("expired");
    expect(expired.request_counts.completed).toBeGreaterThan(0);
    expect(expired.request_counts.completed).toBeLessThan(300);
    await fakeAdmin("/_fake/batches/config", { time_scale: 400 });

    await replies.waitForRequests(300, 60_000);
    const all = replies.replies();
    expect(new Set(all.map((r) => r.request_id)).size).toBe(300);
    expect(all).toHaveLength(300);
    expect(all.every((r: ChatReply) => r.status === "completed")).toBe(true);
    // The leftovers came from a second submission.
    // What the expired batch answered is answered once, from it; the leftovers came from later submissions.
    const first = all.filter((r) => r.attempts === 1);
    expect(first.length).toBe(expired.request_counts.completed);
    expect(all.filter((r) => r.attempts >= 2)).toHaveLength(300 - expired.request_counts.completed);
    const attempts = await db.query<{ attempt: number; status: string }>(
      "select attempt, status from batches order by attempt",
    );
    expect(attempts.slice(0, 2).map((a) => a.attempt)).toEqual([1, 2]);
    expect(attempts.every((a) => a.status === "done")).toBe(true);
    expect(fake.stats().completions_total).toBe(0);
    expect(await worker.stop()).toBe(0);
  } finally {
    await worker.stop("SIGKILL");
    await Promise.all([replies.close(), publisher.close()]);
    await db.drop();
  }

  // Past the deadline, a failed batch's requests fail with a clear code instead of being resubmitted.
  const t = uniqueScenario("batch_deadline");
  const kafka2 = testKafka(t);
  await createTopics(kafka2, t);
  const replies2 = await collect(kafka2, t.topics.replies, t.id);
  const publisher2 = await requestPublisher(kafka2, t);
  const db2 = scenarioDb(t);
  await fakeAdmin("/_fake/batches/config", { time_scale: 1 });
  const w2 = spawnWorker(t, fake.url, { ...BATCH_ENV, BATCH_DEADLINE_MS: "0" });
  try {
    await w2.metricsUrl;
    await publisher2.publish(batchRequests(t.id, 20));
    await until(
      () => w2.logs.some((l) => l.msg === "batch submitted"),
      30_000,
      () => "no batch submitted",
    );
    const submitted = w2.logs.find((l) => l.msg === "batch submitted") as { openai_batch_id: string };
    await fakeAdmin(`/_fake/batches/${submitted.openai_batch_id}/fail`);
    await replies2.waitForRequests(20, 30_000);
    const failed = replies2.replies();
    expect(failed.every((r) => r.status === "failed" && r.error?.code === "batch_deadline_exceeded")).toBe(
      true,
    );
    const audit = await db2.query<{ n: string }>(
      "select count(*) as n from audit_log where event = 'failed'",
    );
    expect(audit[0]?.n).toBe("20");
    expect(await w2.stop()).toBe(0);
  } finally {
    await fakeAdmin("/_fake/batches/config", { time_scale: 100 });
    await w2.stop("SIGKILL");
    await Promise.all([replies2.close(), publisher2.close()]);
    await db2.drop();
  }
});
