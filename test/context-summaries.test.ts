import type { ChatReply, ChatRequest } from "@chatq/contracts";
import type { FakeOpenAI } from "@chatq/fake-openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka } from "./harness/kafka-io.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { metricValue, spawnWorker, type WorkerProcess } from "./harness/worker-process.ts";

// gpt-4 has an 8,192-token window: 40 turns of ~250 tokens cannot all fit, and half the window goes to history.
const MODEL = "gpt-4";
const WINDOW = 8192;
const MAX_TOKENS = 200;
const TURNS = 40;
const FILLER =
  "Meanwhile the weather stayed grey over the harbour and the ferries ran late again, as they often do in " +
  "the spring, while the market by the station sold bread, cheese, apples and coffee to the commuters who " +
  "waited for the next train north; nothing of this needs remembering, it is only what the day looked like.";
const fact = (k: number) =>
  k === 2 ? "my locker code is 4711." : `remember item ${k} is a ${["red", "blue", "green"][k % 3]} box.`;
const userTurn = (k: number) => `Turn ${k}: ${fact(k)} ${FILLER} ${FILLER}`;

const s = uniqueScenario("ctx_summaries");
const kafka = testKafka(s);
const db = scenarioDb(s);
let fake: FakeOpenAI;
let worker: WorkerProcess;

beforeAll(async () => {
  fake = await startTestFake();
  await createTopics(kafka, s, 1);
  worker = spawnWorker(s, fake.url, {
    HISTORY_WINDOW_SHARE: "0.5",
    SUMMARY_MODEL: "gpt-4o-mini",
    SUMMARY_MAX_TOKENS: "1000",
  });
  await worker.metricsUrl;
});

afterAll(async () => {
  await worker?.stop();
  await fake?.close();
  await db.drop();
});

it("a 40-turn conversation on a small window: every request fits, dropped turns are summarised, turn 2's fact reaches turn 40", async () => {
  const replies = await collect(kafka, s.topics.replies, "ctx");
  const publisher = await requestPublisher(kafka, s);
  const conversation = "long-chat";
  const got: ChatReply[] = [];
  for (let k = 1; k <= TURNS; k++) {
    if (k === TURNS) {
      // The summary is written in the background; the last turn is the one that must see it.
      await summaryWhere((row) => row.summary !== null, "no summary was stored for the conversation");
    }
    const request: ChatRequest = {
      request_id: `${conversation}-${k}`,
      conversation_id: conversation,
      tenant: "acme",
      model: MODEL,
      messages: [
        ...(k === 1 ? [{ role: "system" as const, content: "You are a concise assistant." }] : []),
        { role: "user", content: userTurn(k) },
      ],
      params: { max_tokens: MAX_TOKENS },
    };
    await publisher.publish([request]);
    await replies.waitForRequests(k, 60_000);
    const reply = replies.replies().find((r) => r.request_id === request.request_id) as ChatReply;
    got.push(reply);
  }
  await publisher.close();
  await replies.close();

  // Every request fitted the window (the fake answers 400 context_length_exceeded otherwise).
  expect(got.map((r) => r.status)).toEqual(Array(TURNS).fill("completed"));
  for (const r of got) expect((r.usage?.prompt_tokens ?? 0) + MAX_TOKENS).toBeLessThanOrEqual(WINDOW);
  expect(got[0]?.history).toBe("full");
  expect(got.slice(-10).every((r) => r.history === "trimmed" || r.history === "summarised")).toBe(true);
  console.log(
    `history per turn: ${got.map((r) => r.history?.[0]).join("")} (f=full, t=trimmed, s=summarised)`,
  );

  // What the model received at turn 40: the system prompt, a summary holding turn 2's fact, the newest turns.
  const last = fake
    .received()
    .filter((b) => b.model === MODEL)
    .at(-1);
  const sent = last?.messages.map((m) => m.content) ?? [];
  expect(sent[0]).toBe("You are a concise assistant.");
  expect(sent.some((c) => c.startsWith("Summary of the earlier conversation:") && c.includes("4711"))).toBe(
    true,
  );
  expect(sent.at(-1)).toBe(userTurn(TURNS));
  expect(sent.some((c) => c === userTurn(2))).toBe(false);

  // The stored summary comes to cover every turn the last prompt left out, with each one's fact.
  const turns = await db.query<{ id: string; role: string; content: string }>(
    "select id, role, content from conversation_messages order by id",
  );
  const dropped = turns.filter((t) => t.role === "user" && !sent.includes(t.content));
  const lastDropped = Math.max(...dropped.map((t) => Number(t.id)));
  const summaryRow = await summaryWhere(
    (row) => Number(row.summary_through ?? 0) >= lastDropped,
    `the summary does not reach the last dropped turn (message ${lastDropped})`,
  );
  for (const t of dropped) {
    const k = Number(/^Turn (\d+):/.exec(t.content)?.[1]);
    expect(summaryRow?.summary, `turn ${k}`).toContain(`Turn ${k}: ${fact(k)}`);
  }
  console.log(
    `summary: ${summaryRow?.summary_turns} turns through message ${summaryRow?.summary_through}; ${dropped.length} user turns left out of the last prompt`,
  );

  // Prompt tokens were counted exactly as the API counts them: every observation in the 0 bucket.
  const url = await worker.metricsUrl;
  const count = await metricValue(url, "chatq_prompt_token_estimate_error_tokens_count", { model: MODEL });
  const exact =
    (await metricValue(url, "chatq_prompt_token_estimate_error_tokens_bucket", { model: MODEL, le: "0" })) -
    (await metricValue(url, "chatq_prompt_token_estimate_error_tokens_bucket", { model: MODEL, le: "-1" }));
  expect(count).toBe(TURNS);
  expect(exact).toBe(TURNS);
});

interface SummaryRow {
  summary: string | null;
  summary_through: string | null;
  summary_turns: number | null;
}

/** The conversation's summary row once it satisfies `ok` (polled: it is written in the background). */
async function summaryWhere(ok: (row: SummaryRow) => boolean, why: string): Promise<SummaryRow> {
  let row: SummaryRow | undefined;
  const deadline = Date.now() + 60_000;
  for (;;) {
    row = (
      await db.query<SummaryRow>("select summary, summary_through, summary_turns from conversations")
    )[0];
    if (row && ok(row)) return row;
    if (Date.now() > deadline) throw new Error(`${why}: ${JSON.stringify(row)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
