import type { FakeOpenAI } from "@chatq/fake-openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka } from "./harness/kafka-io.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { metricValue, spawnWorker } from "./harness/worker-process.ts";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startTestFake({ latencyMs: 200 });
});
afterAll(async () => {
  await fake?.close();
});

it("two replicas in one group split the partitions and answer every request once, even as the second joins", async () => {
  const s = uniqueScenario("replicas");
  const kafka = testKafka(s);
  await createTopics(kafka, s);
  const replies = await collect(kafka, s.topics.replies, s.id);
  const publisher = await requestPublisher(kafka, s);
  const requests = Array.from({ length: 1000 }, (_, i) => ({
    request_id: `${s.id}-${i}`,
    conversation_id: `${s.id}-c${i % 200}`,
    messages: [{ role: "user" as const, content: `question ${i}` }],
  }));
  await publisher.publish(requests);
  fake.resetStats();
  const db = scenarioDb(s);
  const first = spawnWorker(s, fake.url, { WORKER_MAX_IN_FLIGHT: "20" });
  let second: ReturnType<typeof spawnWorker> | undefined;
  try {
    const firstMetrics = await first.metricsUrl;
    second = spawnWorker(s, fake.url, { WORKER_MAX_IN_FLIGHT: "20" });
    const secondMetrics = await second.metricsUrl;
    await replies.waitForRequests(requests.length);

    // Both did part of the work.
    const done = await Promise.all(
      [firstMetrics, secondMetrics].map((url) => metricValue(url, "chatq_requests_completed_total")),
    );
    expect(done[0]).toBeGreaterThan(0);
    expect(done[1]).toBeGreaterThan(0);
    // Stored once each, whatever moved during the rebalance.
    const [stored] = await db.query<{ replies: string; distinct_ids: string }>(
      "select count(*) as replies, count(distinct request_id) as distinct_ids from replies",
    );
    expect(stored).toEqual({ replies: "1000", distinct_ids: "1000" });
    // Work queued for a partition that moved is left to its new owner, so the only requests asked twice are
    // those already at the API when their partition moved: at most the first worker's in-flight limit.
    const calls = Object.values(fake.stats().completions_by_client_request_id);
    expect(calls).toHaveLength(1000);
    expect(calls.filter((n) => n > 1).length).toBeLessThanOrEqual(20);
    expect(await second.stop()).toBe(0);
    expect(await first.stop()).toBe(0);
  } finally {
    await first.stop("SIGKILL");
    await second?.stop("SIGKILL");
    await Promise.all([replies.close(), publisher.close()]);
    await db.drop();
  }
});
