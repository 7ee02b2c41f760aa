import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { ChatRequest } from "@chatq/contracts";
import type { FakeOpenAI } from "@chatq/fake-openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka } from "./harness/kafka-io.ts";
import { scenarioServiceEnv } from "./harness/names.ts";
import { encryptionEnv, newMasterKey } from "./harness/protection.ts";
import { type Scenario, uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { spawnWorker } from "./harness/worker-process.ts";

// `chatq replay` and `chatq dlq replay` as an operator runs them: the CLI process against the scenario's stack,
// a live worker on the request topic and a second one on the reprocessing topic with its own consumer group.

const run = promisify(execFile);
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startTestFake({ latencyMs: 20 });
});
afterAll(async () => {
  await fake?.close();
});

// Encryption at rest on, as deployed: the replay reads stored (sealed) requests back with the master key.
const ENC = encryptionEnv(newMasterKey());

function cliEnv(s: Scenario, replayTopic: string): Record<string, string> {
  return { ...scenarioServiceEnv(s), ...ENC, TOPIC_DLQ: s.topics.deadLetter, TOPIC_REPLAY: replayTopic };
}

async function chatq(s: Scenario, replayTopic: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ["services/cli/src/main.ts", ...args], {
    encoding: "utf8",
    env: cliEnv(s, replayTopic),
  });
  return stdout;
}

const lastJson = (out: string) => JSON.parse(out.trim().split("\n").at(-1) as string);

it("1,000 stored requests replayed on another model while interactive traffic flows: each linked to its original, a stopped replay resumed publishes each once", async () => {
  const s = uniqueScenario("replay");
  const replayTopic = `${s.id}.requests.replay`;
  const kafka = testKafka(s);
  await createTopics(kafka, s);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: replayTopic, numPartitions: 3 }] });
  await admin.disconnect();
  const replies = await collect(kafka, s.topics.replies, s.id);
  const replayed = await collect(kafka, replayTopic, `${s.id}-watch`);
  const publisher = await requestPublisher(kafka, s);
  const db = scenarioDb(s);
  const live = spawnWorker(s, fake.url, ENC);
  let reprocessor: ReturnType<typeof spawnWorker> | undefined;
  try {
    await live.metricsUrl;
    // Its own group on the reprocessing topic: live traffic never queues behind a replay.
    reprocessor = spawnWorker(s, fake.url, {
      ...ENC,
      TOPIC_REQUESTS: replayTopic,
      KAFKA_GROUP_ID: `${s.groupId}-replay`,
      BATCH_TOPICS: replayTopic,
    });
    const originals: ChatRequest[] = Array.from({ length: 1000 }, (_, i) => ({
      request_id: `${s.id}-o${i}`,
      conversation_id: `${s.id}-c${i % 100}`,
      tenant: "history",
      messages: [{ role: "user" as const, content: `old question ${i}` }],
    }));
    await publisher.publish(originals);
    await replies.waitForRequests(1000);
    await reprocessor.metricsUrl;
    // Interactive traffic keeps arriving while the replay runs.
    const interactive = (async () => {
      for (let i = 0; i < 10; i++) {
        await publisher.publish(
          Array.from({ length: 20 }, (_, j) => ({
            request_id: `${s.id}-live${i}-${j}`,
            tenant: "live",
            priority: "interactive" as const,
            messages: [{ role: "user" as const, content: `now ${i}/${j}` }],
          })),
        );
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    // Stopped after 400 (as Ctrl-C would between chunks), then resumed.
    const first = lastJson(
      (
        await chatq(
          s,
          replayTopic,
          "replay",
          "--tenant",
          "history",
          "--model",
          "gpt-4.1-mini",
          "--max",
          "400",
        )
      )
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .join("\n"),
    );
    expect(first).toMatchObject({ status: "stopped", published: 400, total: 1000 });
    const resumed = lastJson(
      (await chatq(s, replayTopic, "replay", "--resume", first.job))
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .join("\n"),
    );
    expect(resumed).toMatchObject({ job: first.job, status: "done", published: 1000 });
    await interactive;

    await replies.waitForRequests(1000 + 1000 + 200, 120_000);
    // Each original published exactly once to the reprocessing topic, linked to it, on the other model.
    await replayed.waitFor(1000);
    const published = replayed.seen.map((m) => JSON.parse(m.value?.toString("utf8") ?? "{}") as ChatRequest);
    expect(published).toHaveLength(1000);
    expect(new Set(published.map((r) => r.replay_of)).size).toBe(1000);
    expect(published.every((r) => r.priority === "batch" && r.model === "gpt-4.1-mini")).toBe(true);
    const links = await db.query<{ n: string; originals: string }>(
      "select count(*) as n, count(distinct replay_of) as originals from replays",
    );
    expect(links[0]).toEqual({ n: "1000", originals: "1000" });
    const answered = await db.query<{ n: string }>(
      `select count(*) as n from replays p join replies r using (request_id)
       join requests o on o.request_id = p.replay_of
       join usage u on u.request_id = p.request_id
       where r.status = 'completed' and u.model = 'gpt-4.1-mini' and o.model = 'gpt-4o-mini'`,
    );
    expect(answered[0]?.n).toBe("1000");
    const live200 = replies.replies().filter((r) => r.request_id.includes("-live"));
    expect(new Set(live200.map((r) => r.request_id)).size).toBe(200);
    expect(await reprocessor.stop()).toBe(0);
    expect(await live.stop()).toBe(0);
  } finally {
    await live.stop("SIGKILL");
    await reprocessor?.stop("SIGKILL");
    await Promise.all([replies.close(), replayed.close(), publisher.close()]);
    await db.drop();
  }
});

it("dlq replay re-publishes only the chosen dead letters, with new ids linked to the old", async () => {
  const s = uniqueScenario("dlq_replay");
  const kafka = testKafka(s);
  await createTopics(kafka, s);
  const replies = await collect(kafka, s.topics.replies, s.id);
  const requestsSeen = await collect(kafka, s.topics.requests, `${s.id}-watch`);
  const publisher = await requestPublisher(kafka, s);
  const db = scenarioDb(s);
  // gpt-4o is not allowed yet: those requests are dead-lettered (model_not_allowed).
  const worker = spawnWorker(s, fake.url, { ...ENC, OPENAI_ALLOWED_MODELS: "gpt-4o-mini" });
  try {
    await worker.metricsUrl;
    const bad = (i: number, model: string) => ({
      request_id: `${s.id}-bad${i}`,
      model,
      messages: [{ role: "user" as const, content: `q ${i}` }],
    });
    await publisher.publish([bad(0, "gpt-4o"), bad(1, "gpt-4o"), bad(2, "gpt-4o")]);
    await publisher.publishRaw([{ key: "x", value: "not json at all" }]);
    await replies.waitForRequests(3);
    await new Promise((r) => setTimeout(r, 1000));

    const listed = JSON.parse(await chatq(s, "unused", "dlq", "list", "--json")) as {
      id: string;
      reason: string;
      request_id: string | null;
    }[];
    expect(listed).toHaveLength(4);
    const notAllowed = listed.filter((d) => d.request_id !== null);
    expect(notAllowed).toHaveLength(3);
    const idOf = (n: number) => notAllowed.find((d) => d.request_id === `${s.id}-bad${n}`)?.id as string;
    const shown = JSON.parse(await chatq(s, "unused", "dlq", "show", idOf(0)));
    expect(shown.value).toContain(`${s.id}-bad0`);

    // Only two of the three, chosen by id; gpt-4o is allowed now.
    await worker.stop();
    const fixed = spawnWorker(s, fake.url, { ...ENC, OPENAI_ALLOWED_MODELS: "gpt-4o-mini,gpt-4o" });
    try {
      await fixed.metricsUrl;
      const chosen = [idOf(0), idOf(1)];
      const out = lastJson(await chatq(s, "unused", "dlq", "replay", "--ids", chosen.join(",")));
      expect(out.published).toBe(2);
      await replies.waitForRequests(5, 60_000);
      const republished = requestsSeen.seen.flatMap((m) => {
        try {
          return [JSON.parse(m.value?.toString("utf8") ?? "") as ChatRequest];
        } catch {
          return [];
        }
      });
      const again = republished.filter((r) => r.replay_of !== undefined);
      expect(again.map((r) => r.replay_of).sort()).toEqual([`${s.id}-bad0`, `${s.id}-bad1`]);
      expect(again.every((r) => r.request_id !== r.replay_of)).toBe(true);
      const completed = replies.replies().filter((r) => r.status === "completed");
      expect(completed.map((r) => r.request_id).sort()).toEqual(again.map((r) => r.request_id).sort());
      const links = await db.query<{ replay_of: string }>("select replay_of from replays order by replay_of");
      expect(links.map((l) => l.replay_of)).toEqual([`${s.id}-bad0`, `${s.id}-bad1`]);
      expect(await fixed.stop()).toBe(0);
    } finally {
      await fixed.stop("SIGKILL");
    }
  } finally {
    await worker.stop("SIGKILL");
    await Promise.all([replies.close(), requestsSeen.close(), publisher.close()]);
    await db.drop();
  }
});
