// Key rotation under load: a worker keeps answering while `chatq reencrypt` moves content to new data keys and
// `chatq keys rotate-master` re-wraps the data keys under a new master key. Nothing is lost, every row ends on a
// current key, and afterwards only the new master key opens the store.
import type { ChatRequest } from "@chatq/contracts";
import type { FakeOpenAI } from "@chatq/fake-openai";
import { createStore } from "@chatq/store";
import { LocalKeyWrapper } from "@chatq/vault";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka } from "./harness/kafka-io.ts";
import { encryptionEnv, newMasterKey, runChatq } from "./harness/protection.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { spawnWorker } from "./harness/worker-process.ts";

const s = uniqueScenario("protect_rotation");
const kafka = testKafka(s);
const db = scenarioDb(s);
const OLD = newMasterKey();
const NEW = newMasterKey();
const TOTAL = 240;
const storeOptions = { databaseUrl: s.services.databaseUrl, schema: s.schema, poolSize: 2 };
let fake: FakeOpenAI;

/** A command's stdout; exit 3 is reencrypt's "rows still on retired keys, run again", also an answer. */
async function chatq(env: Record<string, string>, ...args: string[]): Promise<string> {
  const { code, out, err } = await runChatq(s, env, ...args);
  if (code !== 0 && code !== 3) throw new Error(`chatq ${args.join(" ")} exited ${code}: ${err}`);
  return out;
}

/** Sealed values whose key is not an active data key (there must be none at the end). */
const ON_OLD_KEYS = `
with sealed as (
  select 'requests' as t, payload #>> '{}' as v from requests where jsonb_typeof(payload) = 'string'
  union all select 'replies', content from replies where content is not null
  union all select 'messages', content from conversation_messages
  union all select 'summaries', summary from conversations where summary is not null
)
select count(*)::int as n from sealed
where split_part(v, '.', 2) not in (select key_id from data_keys where state = 'active')`;

beforeAll(async () => {
  fake = await startTestFake();
  await createTopics(kafka, s, 2);
});

afterAll(async () => {
  await fake?.close();
  await db.drop();
});

it("reencrypt and rotate-master under load lose nothing and leave no row on an old key", async () => {
  const worker = spawnWorker(s, fake.url, encryptionEnv(OLD));
  await worker.metricsUrl;
  const replies = await collect(kafka, s.topics.replies, "rot");
  const publisher = await requestPublisher(kafka, s);
  const request = (n: number): ChatRequest => ({
    request_id: `r${n}`,
    conversation_id: `conv-${n % 30}`,
    tenant: "acme",
    user_id: `user-${n % 12}`,
    messages: [{ role: "user", content: `message ${n}` }],
  });
  // Load in waves of 40 while the key operations run between them.
  const publishing = (async () => {
    for (let wave = 0; wave < TOTAL / 40; wave++) {
      await publisher.publish(Array.from({ length: 40 }, (_, k) => request(wave * 40 + k)));
      await new Promise((r) => setTimeout(r, 700));
    }
  })();
  await replies.waitForRequests(60, 60_000);
  // Under load with the default grace: retired keys stay while the worker may still hold them (its 60 s cache).
  const first = JSON.parse(await chatq({ CHATQ_MASTER_KEY: OLD }, "reencrypt")) as {
    retired: number;
    rows: number;
    rowsPerSecond: number;
  };
  expect(first.retired).toBeGreaterThan(0);
  console.log(`reencrypt under load: ${first.rows} rows at ${Math.round(first.rowsPerSecond)} rows/s`);
  const rotated = JSON.parse(
    await chatq({ CHATQ_MASTER_KEY: OLD, CHATQ_NEW_MASTER_KEY: NEW }, "keys", "rotate-master"),
  ) as { rewrapped: number };
  expect(rotated.rewrapped).toBeGreaterThan(0);
  await publishing;
  await replies.waitForRequests(TOTAL, 120_000);
  await publisher.close();
  await replies.close();
  await worker.stop();

  // The worker ran on the old master key throughout: keys it made meanwhile are re-wrapped by a second run, and
  // rows it sealed under keys it had cached are moved by a finishing reencrypt, which (no writer left) may delete
  // the retired keys at once.
  await chatq({ CHATQ_MASTER_KEY: OLD, CHATQ_NEW_MASTER_KEY: NEW }, "keys", "rotate-master");
  const finish = JSON.parse(
    await chatq({ CHATQ_MASTER_KEY: NEW }, "reencrypt", "--finish", "--grace", "0"),
  ) as {
    remaining: number;
  };
  expect(finish.remaining).toBe(0);
  expect((await db.query<{ n: number }>(ON_OLD_KEYS))[0]?.n).toBe(0);
  expect(await db.query("select key_id from data_keys where state = 'retired'")).toEqual([]);

  const store = await createStore({
    ...storeOptions,
    encryption: { wrapper: new LocalKeyWrapper(Buffer.from(NEW, "base64")) },
  });
  try {
    for (let n = 0; n < TOTAL; n++)
      expect((await store.findReply(`r${n}`))?.content).toContain(`message ${n}`);
    const history = await store.loadHistory("conv-7");
    expect(history.filter((m) => m.role === "user")).toHaveLength(TOTAL / 30);
  } finally {
    await store.close();
  }
  await expect(
    createStore({
      ...storeOptions,
      encryption: { wrapper: new LocalKeyWrapper(Buffer.from(OLD, "base64")) },
    }),
  ).rejects.toMatchObject({ code: "wrong_master_key" });
});
