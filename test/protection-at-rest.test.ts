// Encryption at rest, end to end: a real worker with ENCRYPTION=on answers requests carrying a unique marker, and
// then the marker is looked for everywhere Postgres keeps data — every row of every table (as text), and every
// file of the data directory after a CHECKPOINT. The right master key reads everything back; a wrong one stops
// with a clear error and changes nothing; a ciphertext moved to another row does not open.
import { randomBytes } from "node:crypto";
import type { ChatReply, ChatRequest } from "@chatq/contracts";
import type { FakeOpenAI } from "@chatq/fake-openai";
import { createStore, migrate } from "@chatq/store";
import { LocalKeyWrapper, VaultError } from "@chatq/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka } from "./harness/kafka-io.ts";
import { encryptionEnv, filesContaining, newMasterKey, rowsContaining } from "./harness/protection.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { spawnWorker, type WorkerProcess } from "./harness/worker-process.ts";

const s = uniqueScenario("protect_rest");
const kafka = testKafka(s);
const db = scenarioDb(s);
const MASTER = newMasterKey();
const MARKER = `zq${randomBytes(8).toString("hex")}marker`;
const CONVERSATIONS = 5;
const storeOptions = { databaseUrl: s.services.databaseUrl, schema: s.schema, poolSize: 2 };
const wrapperOf = (key: string) => new LocalKeyWrapper(Buffer.from(key, "base64"));
let fake: FakeOpenAI;
let worker: WorkerProcess;
const replies: ChatReply[] = [];

beforeAll(async () => {
  fake = await startTestFake();
  await createTopics(kafka, s, 2);
  worker = spawnWorker(s, fake.url, encryptionEnv(MASTER));
  await worker.metricsUrl;

  // Two turns per conversation (the second reads the first back as history), two users and a user-less request.
  const collected = await collect(kafka, s.topics.replies, "rest");
  const publisher = await requestPublisher(kafka, s);
  const request = (c: number, turn: number): ChatRequest => ({
    request_id: `c${c}-t${turn}`,
    conversation_id: `conv-${c}`,
    tenant: "acme",
    ...(c % 3 === 2 ? {} : { user_id: `user-${c % 2}` }),
    messages: [
      ...(turn === 1 ? [{ role: "system" as const, content: `Be brief. ${MARKER} system` }] : []),
      { role: "user", content: `Turn ${turn}: remember ${MARKER} number ${c}` },
    ],
  });
  await publisher.publish(Array.from({ length: CONVERSATIONS }, (_, c) => request(c, 1)));
  await collected.waitForRequests(CONVERSATIONS, 60_000).catch((err: unknown) => {
    console.error(worker.logs.filter((l) => Number(l.level) >= 40));
    throw err;
  });
  await publisher.publish(Array.from({ length: CONVERSATIONS }, (_, c) => request(c, 2)));
  await collected.waitForRequests(2 * CONVERSATIONS, 60_000);
  replies.push(...collected.replies());
  await publisher.close();
  await collected.close();
  await worker.stop();
});

afterAll(async () => {
  await worker?.stop();
  await fake?.close();
  await db.drop();
});

describe("with ENCRYPTION=on", () => {
  it("requests are answered, with the marker in the replies and the first turn as history", () => {
    expect(replies).toHaveLength(2 * CONVERSATIONS);
    for (const r of replies) {
      expect(r.status).toBe("completed");
      expect(r.content).toContain(MARKER);
    }
    // The second turn's prompt held the first turn, read back (opened) from the sealed history.
    const second = fake.received().filter((b) => b.messages.some((m) => m.content.startsWith("Turn 2")));
    expect(second).toHaveLength(CONVERSATIONS);
    for (const b of second) expect(b.messages.some((m) => m.content.startsWith("Turn 1"))).toBe(true);
  });

  it("the marker is in no row of any table, and in no file of the data directory after a CHECKPOINT", async () => {
    expect(await rowsContaining(s, MARKER)).toEqual([]);
    // The grep itself is proven to find what is stored in clear: a control string in a plain table.
    const control = `zq${randomBytes(8).toString("hex")}control`;
    await db.query("create table plaintext_control (t text)");
    await db.query("insert into plaintext_control values ($1)", [control]);
    expect((await filesContaining(s.services.databaseUrl, control)).length).toBeGreaterThan(0);
    expect(await filesContaining(s.services.databaseUrl, MARKER)).toEqual([]);
    // Metadata stays queryable in clear.
    const [usage] = await db.query<{ n: number; tokens: number }>(
      "select count(*)::int as n, sum(total_tokens)::int as tokens from usage where tenant = 'acme'",
    );
    expect(usage?.n).toBe(2 * CONVERSATIONS);
    expect(usage?.tokens).toBeGreaterThan(0);
    const [keys] = await db.query<{ n: number }>("select count(*)::int as n from data_keys");
    expect(keys?.n).toBe(3); // user-0, user-1, and the tenant's own key for requests without a user_id
  });

  it("with the right master key the store reads history, replies and the stored request back", async () => {
    const store = await createStore({ ...storeOptions, encryption: { wrapper: wrapperOf(MASTER) } });
    try {
      const history = await store.loadHistory("conv-1");
      expect(history.map((m) => m.role)).toEqual(["system", "user", "assistant", "user", "assistant"]);
      expect(history[1]?.content).toBe(`Turn 1: remember ${MARKER} number 1`);
      const reply = await store.findReply("c1-t2");
      expect(reply?.content).toContain(MARKER);
      const admitted = await store.admit([
        {
          request: { request_id: "c1-t2", messages: [{ role: "user", content: "again" }] },
          model: "gpt-4o-mini",
          priority: "interactive",
          source: { topic: "t", partition: 0, offset: "0" },
          receivedAt: new Date(),
        },
      ]);
      const again = admitted.get("c1-t2");
      expect(again?.state === "done" && again.reply.content).toContain(MARKER);
    } finally {
      await store.close();
    }
  });

  it("a summary is sealed too, and opens through loadContext", async () => {
    const store = await createStore({ ...storeOptions, encryption: { wrapper: wrapperOf(MASTER) } });
    try {
      const { turns } = await store.loadContext("conv-0");
      const through = turns.at(-1)?.id ?? 0;
      expect(
        await store.saveSummary("conv-0", {
          text: `summary ${MARKER}`,
          throughId: through,
          turns: 4,
          model: "m",
        }),
      ).toBe(true);
      expect((await store.loadContext("conv-0")).summary?.text).toBe(`summary ${MARKER}`);
      expect(await rowsContaining(s, MARKER)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("a wrong master key fails at start with wrong_master_key, and changes nothing", async () => {
    const before = await db.query("select key_id, wrapped, state from data_keys order by key_id");
    const check = await db.query("select * from vault_master");
    await expect(
      createStore({ ...storeOptions, encryption: { wrapper: wrapperOf(newMasterKey()) } }),
    ).rejects.toSatisfy((err) => err instanceof VaultError && err.code === "wrong_master_key");
    const wrong = spawnWorker(s, fake.url, encryptionEnv(newMasterKey()));
    wrong.metricsUrl.catch(() => {}); // it never starts: that is the point
    expect(await wrong.exited).toBe(1);
    expect(JSON.stringify(wrong.logs)).toContain("wrong_master_key");
    expect(await db.query("select key_id, wrapped, state from data_keys order by key_id")).toEqual(before);
    expect(await db.query("select * from vault_master")).toEqual(check);
  });

  it("two replies' ciphertexts swapped between rows are detected (tampered), not shown as each other", async () => {
    await db.query(`
      update replies r set content = o.content
      from replies o
      where (r.request_id, o.request_id) in (('c3-t1', 'c4-t1'), ('c4-t1', 'c3-t1'))`);
    const store = await createStore({ ...storeOptions, encryption: { wrapper: wrapperOf(MASTER) } });
    try {
      await expect(store.findReply("c3-t1")).rejects.toSatisfy(
        (err) => err instanceof VaultError && err.code === "tampered",
      );
      await expect(store.findReply("c4-t1")).rejects.toSatisfy(
        (err) => err instanceof VaultError && err.code === "tampered",
      );
      expect((await store.findReply("c2-t1"))?.content).toContain(MARKER);
    } finally {
      await store.close();
    }
  });
});

it("migrations apply to an existing schema again without change (idempotent)", async () => {
  expect((await migrate(storeOptions)).applied).toEqual([]);
});
