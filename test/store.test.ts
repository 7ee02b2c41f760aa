import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import type { ChatMessage, ChatReply, ChatRequest } from "@chatq/contracts";
import {
  createStore,
  DEFAULT_MIGRATIONS_DIR,
  migrate,
  type Outcome,
  type ReceivedRequest,
  type Store,
  StoreError,
} from "@chatq/store";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { services } from "./setup/services.ts";

const schema = `store_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const schemas = [schema];
let databaseUrl: string;
let admin: pg.Client;
let store: Store;

beforeAll(async () => {
  databaseUrl = services().databaseUrl;
  admin = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${schema}` });
  await admin.connect();
  await migrate({ databaseUrl, schema });
  store = await createStore({ databaseUrl, schema, poolSize: 4, applicationName: "chatq-store-test" });
});

afterAll(async () => {
  await store?.close();
  for (const s of schemas) await admin.query(`drop schema if exists ${s} cascade`);
  await admin.end();
});

let seq = 0;
function request(fields: Partial<ChatRequest> = {}): ChatRequest {
  seq += 1;
  return {
    request_id: `req-${seq}-${randomUUID()}`,
    tenant: "acme",
    user_id: "u-1",
    messages: [{ role: "user", content: `question ${seq}` }],
    ...fields,
  };
}

function received(req: ChatRequest, offset = seq): ReceivedRequest {
  return {
    request: req,
    model: req.model ?? "gpt-4o-mini",
    priority: req.priority ?? "interactive",
    source: { topic: "chat.requests", partition: 0, offset: String(offset) },
    receivedAt: new Date(),
  };
}

function completed(req: ChatRequest, content: string, extra: Partial<Outcome> = {}): Outcome {
  const reply: ChatReply = {
    request_id: req.request_id,
    ...(req.conversation_id === undefined ? {} : { conversation_id: req.conversation_id }),
    status: "completed",
    model: "gpt-4o-mini",
    content,
    finish_reason: "stop",
    usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
    cost_usd: 0.000123,
    latency_ms: 420,
    attempts: 1,
  };
  return {
    request: req,
    model: "gpt-4o-mini",
    reply,
    newTurns: req.messages,
    usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
    costUsd: 0.000123,
    apiMs: 400,
    attempts: 1,
    finishedAt: new Date(),
    ...extra,
  };
}

function failed(req: ChatRequest): Outcome {
  return {
    request: req,
    model: "gpt-4o-mini",
    reply: {
      request_id: req.request_id,
      status: "failed",
      latency_ms: 3000,
      attempts: 5,
      error: { code: "rate_limited", message: "gave up after 5 attempts", retryable: true },
    },
    newTurns: req.messages,
    apiMs: 2500,
    attempts: 5,
    finishedAt: new Date(),
  };
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(`select count(*)::int as n from (${sql}) q`, values);
  return rows[0]?.n ?? -1;
}

describe("migrate", () => {
  it("applies 0001 once; running it again, or twice at the same time, is a no-op", async () => {
    const fresh = `store_test_m_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
    schemas.push(fresh);
    const results = await Promise.all([
      migrate({ databaseUrl, schema: fresh }),
      migrate({ databaseUrl, schema: fresh }),
    ]);
    // Counted from the directory: other features add their own numbered files.
    const all = readdirSync(DEFAULT_MIGRATIONS_DIR)
      .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
      .map((f) => f.replace(/\.sql$/, ""))
      .sort();
    expect(results.map((r) => r.applied).sort()).toEqual([[], all]);
    expect(await migrate({ databaseUrl, schema: fresh })).toEqual({ applied: [] });
    expect(await count(`select * from ${fresh}.schema_migrations`)).toBe(all.length);
  });

  it("a store on a schema that was never migrated refuses to start", async () => {
    const empty = `store_test_e_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
    await expect(createStore({ databaseUrl, schema: empty })).rejects.toMatchObject({
      name: "StoreError",
      operation: "connect",
      retryable: false,
    });
  });
});

describe("admit", () => {
  it("says new the first time, pending while unanswered, done with the stored reply once answered", async () => {
    const req = request();
    expect(await store.admit([received(req)])).toEqual(new Map([[req.request_id, { state: "new" }]]));
    // A redelivery before the outcome was stored (a crash): process it again.
    expect((await store.admit([received(req)])).get(req.request_id)).toEqual({ state: "pending" });

    const outcome = completed(req, "the answer");
    await store.complete([outcome]);
    expect((await store.admit([received(req)])).get(req.request_id)).toEqual({
      state: "done",
      reply: outcome.reply,
    });
    expect(await store.findReply(req.request_id)).toEqual(outcome.reply);

    const stored = await admin.query(
      "select status, payload, source_topic from requests where request_id = $1",
      [req.request_id],
    );
    expect(stored.rows).toEqual([{ status: "completed", payload: req, source_topic: "chat.requests" }]);
    const events = await admin.query<{ admission: string }>(
      "select detail->>'admission' as admission from audit_log where request_id = $1 and event = 'received' order by id",
      [req.request_id],
    );
    expect(events.rows.map((r) => r.admission)).toEqual(["new", "pending", "done"]);
  });

  it("a batch holding the same request_id twice stores it once and audits both receipts", async () => {
    const req = request();
    const other = request();
    const admissions = await store.admit([received(req, 10), received(other, 11), received(req, 12)]);
    expect(admissions).toEqual(
      new Map([
        [req.request_id, { state: "new" }],
        [other.request_id, { state: "new" }],
      ]),
    );
    const rows = await admin.query("select source_offset from requests where request_id = $1", [
      req.request_id,
    ]);
    expect(rows.rows).toEqual([{ source_offset: "10" }]);
    const events = await admin.query<{ admission: string }>(
      "select detail->>'admission' as admission from audit_log where request_id = $1 order by id",
      [req.request_id],
    );
    expect(events.rows.map((r) => r.admission)).toEqual(["new", "duplicate"]);
  });
});

describe("complete", () => {
  it("stores reply, usage and history in order; a second call for the same request stores nothing", async () => {
    const conversationId = `conv-${randomUUID()}`;
    const first = request({
      conversation_id: conversationId,
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
    });
    await store.admit([received(first)]);
    const result = await store.complete([completed(first, "hello!")]);
    expect(result.inserted).toEqual(new Set([first.request_id]));

    const second = request({
      conversation_id: conversationId,
      messages: [{ role: "user", content: "and again" }],
    });
    await store.admit([received(second)]);
    const history = await store.loadHistory(conversationId);
    expect(history).toEqual([
      { role: "system", content: "be brief" },
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello!" },
    ]);
    await store.complete([completed(second, "hello again")]);

    // The worker crashed between storing and committing: the same outcomes come again.
    const again = await store.complete([completed(first, "hello!"), completed(second, "hello again")]);
    expect(again.inserted.size).toBe(0);

    expect(await store.loadHistory(conversationId)).toEqual([
      ...history,
      { role: "user", content: "and again" },
      { role: "assistant", content: "hello again" },
    ]);
    expect(
      await count("select * from replies where request_id = any($1)", [
        [first.request_id, second.request_id],
      ]),
    ).toBe(2);
    expect(
      await count("select * from usage where request_id = any($1)", [[first.request_id, second.request_id]]),
    ).toBe(2);
    expect(
      await count("select * from audit_log where event = 'completed' and request_id = any($1)", [
        [first.request_id, second.request_id],
      ]),
    ).toBe(2);
    const usage = await admin.query(
      "select tenant, model, status, prompt_tokens, completion_tokens, total_tokens, cost_usd, latency_ms, api_ms, attempts from usage where request_id = $1",
      [first.request_id],
    );
    expect(usage.rows).toEqual([
      {
        tenant: "acme",
        model: "gpt-4o-mini",
        status: "completed",
        prompt_tokens: 12,
        completion_tokens: 5,
        total_tokens: 17,
        cost_usd: "0.000123",
        latency_ms: 420,
        api_ms: 400,
        attempts: 1,
      },
    ]);
  });

  it("two workers completing the same request at once store exactly one reply", async () => {
    const req = request({ conversation_id: `conv-${randomUUID()}` });
    await store.admit([received(req)]);
    const other = await createStore({ databaseUrl, schema, poolSize: 1 });
    try {
      const [a, b] = await Promise.all([
        store.complete([completed(req, "from worker a")]),
        other.complete([completed(req, "from worker b")]),
      ]);
      expect(a.inserted.size + b.inserted.size).toBe(1);
      expect(await store.loadHistory(req.conversation_id ?? "")).toHaveLength(2);
    } finally {
      await other.close();
    }
  });

  it("a failed request is stored with its usage but adds nothing to the conversation", async () => {
    const conversationId = `conv-${randomUUID()}`;
    const ok = request({ conversation_id: conversationId });
    const bad = request({ conversation_id: conversationId });
    await store.admit([received(ok), received(bad)]);
    await store.complete([completed(ok, "fine")]);
    const { inserted } = await store.complete([failed(bad)]);
    expect(inserted).toEqual(new Set([bad.request_id]));
    expect(await store.loadHistory(conversationId)).toEqual([
      ...ok.messages,
      { role: "assistant", content: "fine" },
    ]);
    expect((await store.findReply(bad.request_id))?.status).toBe("failed");
    const rows = await admin.query(
      "select r.status, u.status as usage_status, u.attempts, a.error_code from requests r join usage u using (request_id) join audit_log a using (request_id) where request_id = $1 and a.event = 'failed'",
      [bad.request_id],
    );
    expect(rows.rows).toEqual([
      { status: "failed", usage_status: "failed", attempts: 5, error_code: "rate_limited" },
    ]);
  });

  it("stores content Postgres cannot hold (NUL) instead of failing the whole group", async () => {
    const req = request({
      conversation_id: `conv-${randomUUID()}`,
      messages: [{ role: "user", content: "a\u0000b" }],
    });
    await store.admit([received(req)]);
    const { inserted } = await store.complete([completed(req, "c\u0000d")]);
    expect(inserted.size).toBe(1);
    expect(await store.loadHistory(req.conversation_id ?? "")).toEqual([
      { role: "user", content: "a\uFFFDb" },
      { role: "assistant", content: "c\uFFFDd" },
    ]);
  });

  it("a group of 200 outcomes is one statement, one round trip to Postgres", async () => {
    const reqs = Array.from({ length: 200 }, (_, i) =>
      request({ conversation_id: `conv-rt-${i % 50}-${schema}` }),
    );
    await store.admit(reqs.map((r) => received(r)));
    const outcomes = reqs.map((r, i) => (i % 10 === 0 ? failed(r) : completed(r, `answer ${i}`)));
    // Every statement, from any pool, goes through Client.prototype.query: counting there counts round trips.
    const spy = vi.spyOn(pg.Client.prototype, "query");
    try {
      const { inserted } = await store.complete(outcomes);
      expect(inserted.size).toBe(200);
      expect(spy.mock.calls.length).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(
      await count("select * from usage where request_id = any($1)", [reqs.map((r) => r.request_id)]),
    ).toBe(200);
  });
});

describe("loadHistory", () => {
  it("with a limit returns the last N turns, oldest first", async () => {
    const conversationId = `conv-${randomUUID()}`;
    const turns: ChatMessage[] = [];
    for (let i = 0; i < 3; i++) {
      const req = request({
        conversation_id: conversationId,
        messages: [{ role: "user", content: `q${i}` }],
      });
      await store.admit([received(req)]);
      await store.complete([completed(req, `a${i}`)]);
      turns.push({ role: "user", content: `q${i}` }, { role: "assistant", content: `a${i}` });
    }
    expect(await store.loadHistory(conversationId)).toEqual(turns);
    expect(await store.loadHistory(conversationId, { limit: 3 })).toEqual(turns.slice(-3));
    expect(await store.loadHistory(conversationId, { limit: 0 })).toEqual([]);
    expect(await store.loadHistory(`conv-${randomUUID()}`)).toEqual([]);
  });
});

describe("reject", () => {
  it("audits rejected and dead_lettered, with or without a request_id, and answers a redelivery the same way", async () => {
    const requestId = `bad-${randomUUID()}`;
    const at = new Date();
    const source = { topic: "chat.requests", partition: 2, offset: "77" };
    await store.reject([
      { requestId, tenant: "acme", code: "schema", message: "messages: required", source, at },
      { code: "not_json", message: "message value is not JSON", source: { ...source, offset: "78" }, at },
    ]);
    const events = await admin.query(
      "select request_id, event, error_code, detail->>'offset' as offset from audit_log where detail->>'partition' = '2' and detail->>'offset' in ('77', '78') order by id",
    );
    expect(events.rows).toEqual([
      { request_id: requestId, event: "rejected", error_code: "schema", offset: "77" },
      { request_id: requestId, event: "dead_lettered", error_code: "schema", offset: "77" },
      { request_id: null, event: "rejected", error_code: "not_json", offset: "78" },
      { request_id: null, event: "dead_lettered", error_code: "not_json", offset: "78" },
    ]);
    expect(await store.findReply(requestId)).toEqual({
      request_id: requestId,
      status: "rejected",
      latency_ms: 0,
      attempts: 0,
      error: { code: "schema", message: "messages: required", retryable: false },
    });
  });

  it("does not overwrite a request that was already stored", async () => {
    const req = request();
    await store.admit([received(req)]);
    await store.complete([completed(req, "answered")]);
    await store.reject([
      {
        requestId: req.request_id,
        code: "schema",
        message: "bad",
        source: { topic: "t", partition: 0, offset: "1" },
        at: new Date(),
      },
    ]);
    expect((await store.findReply(req.request_id))?.status).toBe("completed");
  });
});

describe("audit", () => {
  it("buffered rows reach audit_log without an explicit flush, and flush() writes the rest", async () => {
    const requestId = `audited-${randomUUID()}`;
    for (let attempt = 1; attempt <= 3; attempt++) {
      store.audit.append({ event: "attempt_started", requestId, attempt, at: new Date() });
      store.audit.append({
        event: "attempt_failed",
        requestId,
        attempt,
        httpStatus: 429,
        errorCode: "rate_limited",
        detail: { retry_after_ms: 200 },
        at: new Date(),
      });
    }
    await vi.waitFor(
      async () => expect(await count("select * from audit_log where request_id = $1", [requestId])).toBe(6),
      {
        timeout: 10_000,
        interval: 50,
      },
    );
    store.audit.append({ event: "reply_republished", requestId, at: new Date() });
    await store.audit.flush();
    const rows = await admin.query(
      "select event, attempt, http_status from audit_log where request_id = $1 order by id",
      [requestId],
    );
    expect(rows.rows.map((r) => `${r.event}:${r.attempt ?? ""}:${r.http_status ?? ""}`)).toEqual([
      "attempt_started:1:",
      "attempt_failed:1:429",
      "attempt_started:2:",
      "attempt_failed:2:429",
      "attempt_started:3:",
      "attempt_failed:3:429",
      "reply_republished::",
    ]);
  });

  it("audit_log refuses UPDATE and DELETE unless the transaction opts into erasure", async () => {
    const requestId = `erase-${randomUUID()}`;
    store.audit.append({ event: "received", requestId, at: new Date() });
    await store.audit.flush();
    await expect(
      admin.query("update audit_log set tenant = 'x' where request_id = $1", [requestId]),
    ).rejects.toThrow(/append-only/);
    await expect(admin.query("delete from audit_log where request_id = $1", [requestId])).rejects.toThrow(
      /append-only/,
    );
    await admin.query("begin");
    await admin.query("set local chatq.audit_erasure = 'on'");
    await admin.query("delete from audit_log where request_id = $1", [requestId]);
    await admin.query("commit");
    expect(await count("select * from audit_log where request_id = $1", [requestId])).toBe(0);
  });
});

describe("errors", () => {
  it("an unreachable Postgres is a retryable connection error", async () => {
    const url = new URL(databaseUrl);
    url.port = "1"; // nothing listens on port 1
    const err = await createStore({ databaseUrl: url.toString(), schema }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: "connection", retryable: true, operation: "connect" });
  });
});
