import type { ChatRequest } from "@chatq/contracts";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka } from "./harness/kafka-io.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { type Budget, budgetEnv, startTestFake } from "./harness/test-budget.ts";
import { spawnWorker, type WorkerProcess } from "./harness/worker-process.ts";

/**
 * Scaling out while lag is high (what an SRE or an autoscaler does): one replica works through a backlog far
 * above the shared budget, two more join. Before, the newcomers made no call until the first replica's whole
 * queue had been granted (FIFO by enqueue time across replicas), and the first one spent the budget on waits of
 * partitions it had lost, then threw the grants away. No timing assertions: orders and counts of what each
 * replica answered, and totals.
 */

// 10 requests a second over 1 s slices, enforced by the fake and configured in the workers alike.
const BUDGET: Budget = { rpm: 600, tpm: 600_000, sliceMs: 1000 };
const REQUESTS = 600;
// Every conversation's turns run one at a time, so this many can wait for budget at once.
const CONVERSATIONS = 300;
// The first replica fetches this much before the others join: ~30 s of budget queued in its limiter.
const IN_FLIGHT = "300";
// The first answers after the join in which each replica must have its share (a fair share is a third).
const FIRST_ANSWERS = 90;
const AT_LEAST_EACH = 10;

let fake: Awaited<ReturnType<typeof startTestFake>>;
beforeAll(async () => {
  fake = await startTestFake({ budget: BUDGET, latencyMs: 100, jitterMs: 50 });
});
afterAll(async () => {
  await fake?.close();
});

it("replicas that join a busy group each answer their share at once, within the budget, every request once", async () => {
  const s = uniqueScenario("scaleout");
  const kafka = testKafka(s);
  await createTopics(kafka, s, 12);
  const replies = await collect(kafka, s.topics.replies, s.id);
  const publisher = await requestPublisher(kafka, s);
  const requests: ChatRequest[] = Array.from({ length: REQUESTS }, (_, i) => ({
    request_id: `${s.id}-${i}`,
    conversation_id: `${s.id}-c${i % CONVERSATIONS}`,
    messages: [{ role: "user", content: `question ${i}` }],
    params: { max_tokens: 20 },
  }));
  await publisher.publish(requests);
  fake.resetStats();
  const db = scenarioDb(s);
  const env = { ...budgetEnv(BUDGET), TOPIC_PARTITIONS: "12", WORKER_MAX_IN_FLIGHT: IN_FLIGHT };
  const workers: WorkerProcess[] = [];
  try {
    workers.push(spawnWorker(s, fake.url, env));
    await workers[0]?.metricsUrl;
    // The first replica is well into the backlog, with the rest of its fetch queued for budget.
    await replies.waitForRequests(30);
    workers.push(spawnWorker(s, fake.url, env), spawnWorker(s, fake.url, env));
    await Promise.all(workers.map((w) => w.metricsUrl));
    await replies.waitForRequests(REQUESTS);

    // Each replica answered its share of the first answers after the group settled, the first one included.
    const settledAt = Math.max(...workers.flatMap((w) => logTimes(w, "partitions assigned")));
    const answers = workers
      .flatMap((w, replica) => logTimes(w, "request finished").map((at) => ({ at, replica })))
      .filter((a) => a.at > settledAt)
      .sort((a, b) => a.at - b.at)
      .slice(0, FIRST_ANSWERS);
    expect(answers).toHaveLength(FIRST_ANSWERS);
    const byReplica = [0, 1, 2].map((r) => answers.filter((a) => a.replica === r).length);
    const stats = fake.stats();
    const limited = stats.rate_limited_total.requests + stats.rate_limited_total.tokens;
    const calls = Object.values(stats.completions_by_client_request_id);
    console.log(
      `[scale-out] first ${FIRST_ANSWERS} answers after the join by replica: ${byReplica.join(" / ")}; ` +
        `429s ${limited} of ${stats.requests_total} calls; asked twice ${calls.filter((n) => n > 1).length}`,
    );
    for (const n of byReplica)
      expect(n, `answers per replica: ${byReplica}`).toBeGreaterThanOrEqual(AT_LEAST_EACH);

    // Within the budget: the fake enforces it, so an overspend would be 429s; they are (next to) none.
    expect(limited).toBeLessThanOrEqual(Math.max(1, stats.requests_total / 100));

    // Every request answered and stored exactly once; asked twice only if it was at the API as its partition moved.
    const [stored] = await db.query<{ replies: string; distinct_ids: string }>(
      "select count(*) as replies, count(distinct request_id) as distinct_ids from replies",
    );
    expect(stored).toEqual({ replies: String(REQUESTS), distinct_ids: String(REQUESTS) });
    expect(new Set(replies.replies().map((r) => r.request_id)).size).toBe(REQUESTS);
    expect(replies.replies().every((r) => r.status === "completed")).toBe(true);
    expect(calls).toHaveLength(REQUESTS);
    // A rebalance moves partitions twice here (one joiner, then the other): each time, at most a bucket's calls
    // (10) can be at the API.
    expect(calls.filter((n) => n > 1).length).toBeLessThanOrEqual(20);
    for (const w of workers) expect(await w.stop()).toBe(0);
  } finally {
    for (const w of workers) await w.stop("SIGKILL");
    await Promise.all([replies.close(), publisher.close()]);
    await db.drop();
  }
});

/** When (epoch ms, the log line's own time) the worker logged `msg`. */
function logTimes(w: WorkerProcess, msg: string): number[] {
  return w.logs.filter((l) => l.msg === msg).map((l) => Number(l.time));
}
