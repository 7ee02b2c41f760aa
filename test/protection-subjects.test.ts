// Consent, erasure, export and retention on a store with encryption on, driven as an operator would: through
// `chatq consent|erase|export|policy|purge`, checked through SQL and the store's own reads.
import type { ChatRequest } from "@chatq/contracts";
import { createStore, migrate, type Store } from "@chatq/store";
import { LocalKeyWrapper, Vault } from "@chatq/vault";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { filesContaining, newMasterKey, rowsContaining, runChatq } from "./harness/protection.ts";
import { uniqueScenario } from "./harness/scenario.ts";

const s = uniqueScenario("protect_subjects");
const db = scenarioDb(s);
const MASTER = newMasterKey();
const wrapper = new LocalKeyWrapper(Buffer.from(MASTER, "base64"));
const storeOptions = { databaseUrl: s.services.databaseUrl, schema: s.schema, poolSize: 2 };
const marker = (who: string) => `zq${s.id.slice(-8)}${who}mark`;
let store: Store;

async function chatq(...args: string[]): Promise<string> {
  const { code, out, err } = await runChatq(
    s,
    { CHATQ_MASTER_KEY: MASTER, CHATQ_OPERATOR: "dpo@example.com" },
    ...args,
  );
  if (code !== 0) throw new Error(`chatq ${args.join(" ")} exited ${code}: ${err}`);
  return out;
}

/** One request answered and stored, as the worker stores it: admit, then complete. */
async function answered(id: string, tenant: string, user: string, text: string): Promise<void> {
  const request: ChatRequest = {
    request_id: id,
    conversation_id: `conv-${id}`,
    tenant,
    user_id: user,
    messages: [{ role: "user", content: text }],
  };
  await store.admit([
    {
      request,
      model: "gpt-4o-mini",
      priority: "interactive",
      source: { topic: "t", partition: 0, offset: "0" },
      receivedAt: new Date(),
    },
  ]);
  await store.complete([
    {
      request,
      model: "gpt-4o-mini",
      reply: { request_id: id, status: "completed", content: `Echo: ${text}`, latency_ms: 5, attempts: 1 },
      newTurns: request.messages,
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
      apiMs: 4,
      attempts: 1,
      finishedAt: new Date(),
    },
  ]);
}

beforeAll(async () => {
  await migrate(storeOptions);
  await db.query(
    "insert into tenants (tenant_id, storage_policy) values ('consenting', 'with_consent'), ('open', 'always'), ('silent', 'none'), ('aging', 'always')",
  );
  store = await createStore({ ...storeOptions, encryption: { wrapper } });
});

afterAll(async () => {
  await store?.close();
  await db.drop();
});

describe("storage policy and consent", () => {
  it("with_consent: a request without consent is answered but its content is not stored; after consent grant it is", async () => {
    await answered("c-before", "consenting", "u1", marker("before"));
    const [before] = await db.query<{ payload: unknown; storage_basis: string; content: string | null }>(
      "select q.payload, q.storage_basis, r.content from requests q join replies r using (request_id) where request_id = 'c-before'",
    );
    expect(before).toEqual({ payload: null, storage_basis: "no_consent", content: null });
    expect(await db.query("select 1 from conversation_messages where request_id = 'c-before'")).toEqual([]);
    const [audited] = await db.query<{ detail: { storage_basis: string } }>(
      "select detail from audit_log where request_id = 'c-before' and event = 'received'",
    );
    expect(audited?.detail.storage_basis).toBe("no_consent");

    await chatq("consent", "grant", "--tenant", "consenting", "--user", "u1", "--notice", "2026-01");
    await new Promise((r) => setTimeout(r, 1_100)); // the store's policy cache lives 1 s
    await answered("c-after", "consenting", "u1", marker("after"));
    const [after] = await db.query<{ storage_basis: string }>(
      "select storage_basis from requests where request_id = 'c-after'",
    );
    expect(after?.storage_basis).toBe("consent");
    expect((await store.findReply("c-after"))?.content).toBe(`Echo: ${marker("after")}`);
    expect((await store.loadHistory("conv-c-after")).map((m) => m.content)).toEqual([
      marker("after"),
      `Echo: ${marker("after")}`,
    ]);

    await chatq("consent", "revoke", "--tenant", "consenting", "--user", "u1");
    await new Promise((r) => setTimeout(r, 1_100));
    await answered("c-revoked", "consenting", "u1", marker("revoked"));
    expect((await store.findReply("c-revoked"))?.content).toBeUndefined();
  });

  it("none: content is never stored, metadata and usage are", async () => {
    await answered("n-1", "silent", "u1", marker("silent"));
    const [row] = await db.query<{ payload: unknown; basis: string; tokens: number }>(
      "select q.payload, q.storage_basis as basis, u.total_tokens as tokens from requests q join usage u using (request_id) where request_id = 'n-1'",
    );
    expect(row).toEqual({ payload: null, basis: "none", tokens: 7 });
    expect(await store.loadHistory("conv-n-1")).toEqual([]);
  });
});

describe("erasure and export", () => {
  beforeAll(async () => {
    for (const user of ["alice", "bob"])
      for (let n = 0; n < 3; n++) await answered(`${user}-${n}`, "open", user, `${marker(user)} ${n}`);
  });

  it("export returns exactly that user's requests, replies and history, opened", async () => {
    const exported = JSON.parse(await chatq("export", "--tenant", "open", "--user", "alice")) as {
      requests: { request_id: string; request: ChatRequest; reply: { content: string } }[];
      conversations: { messages: { content: string }[] }[];
    };
    expect(exported.requests.map((r) => r.request_id).sort()).toEqual(["alice-0", "alice-1", "alice-2"]);
    for (const r of exported.requests) {
      expect(r.request.messages[0]?.content).toContain(marker("alice"));
      expect(r.reply.content).toContain(marker("alice"));
    }
    expect(exported.conversations).toHaveLength(3);
    expect(JSON.stringify(exported)).not.toContain(marker("bob"));
    const [audit] = await db.query<{ detail: { by: string; requests: number } }>(
      "select detail from audit_log where event = 'exported'",
    );
    expect(audit?.detail).toMatchObject({ by: "dpo@example.com", requests: 3 });
  });

  it("erase crypto-shreds and deletes the user's content; other users are untouched", async () => {
    const [sealed] = await db.query<{ content: string }>(
      "select content from replies where request_id = 'alice-0'",
    );
    const report = JSON.parse(await chatq("erase", "--tenant", "open", "--user", "alice")) as Record<
      string,
      number
    >;
    expect(report).toMatchObject({ dataKeys: 1, requests: 3, conversations: 3, messages: 6 });

    expect(await db.query("select 1 from requests where user_id = 'alice'")).toEqual([]);
    expect(await db.query("select 1 from data_keys where user_id = 'alice'")).toEqual([]);
    expect(await rowsContaining(s, marker("alice"))).toEqual([]);
    expect(await filesContaining(s.services.databaseUrl, marker("alice"))).toEqual([]);
    // A copy of a ciphertext kept anywhere (a backup) no longer opens: its data key is gone.
    const pool = new pg.Pool({
      connectionString: s.services.databaseUrl,
      options: `-c search_path=${s.schema}`,
    });
    try {
      const vault = await Vault.open({ db: pool, wrapper });
      await expect(
        vault.openAll([{ ad: "alice-0|replies.content", value: sealed?.content ?? "" }]),
      ).rejects.toMatchObject({ code: "key_erased" });
    } finally {
      await pool.end();
    }
    expect((await store.findReply("bob-1"))?.content).toBe(`Echo: ${marker("bob")} 1`);
    expect(await store.loadHistory("conv-bob-2")).toHaveLength(2);
    const [audit] = await db.query<{ detail: Record<string, unknown> }>(
      "select detail from audit_log where event = 'erased'",
    );
    expect(audit?.detail).toMatchObject({ by: "dpo@example.com", requests: 3 });
    expect(JSON.stringify(audit)).not.toContain("alice");
  });
});

it("retention: a purge deletes content older than the tenant's period, and nothing younger", async () => {
  for (let n = 0; n < 6; n++) await answered(`aging-${n}`, "aging", "u1", `aging ${n}`);
  const old = ["aging-0", "aging-1", "aging-2"];
  await db.query("update requests set created_at = now() - interval '2 hours' where request_id = any($1)", [
    old,
  ]);
  await db.query("update replies set created_at = now() - interval '2 hours' where request_id = any($1)", [
    old,
  ]);
  await db.query(
    "update conversation_messages set created_at = now() - interval '2 hours' where request_id = any($1)",
    [old],
  );
  await chatq("policy", "--tenant", "aging", "--content-retention", "1 hour");
  const report = JSON.parse(await chatq("purge")) as Record<string, number>;
  expect(report).toMatchObject({ payloads: 3, replies: 3, messages: 6 });
  const rows = await db.query<{ request_id: string; payload: unknown; content: string | null }>(
    "select q.request_id, q.payload, r.content from requests q join replies r using (request_id) where q.tenant = 'aging' order by 1",
  );
  for (const r of rows) {
    const expired = old.includes(r.request_id);
    expect(r.payload === null, r.request_id).toBe(expired);
    expect(r.content === null, r.request_id).toBe(expired);
  }
  expect(await store.loadHistory("conv-aging-4")).toHaveLength(2);
  expect(await store.loadHistory("conv-aging-1")).toEqual([]);
});
