import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import type { FakeOpenAI } from "@chatq/fake-openai";
import { SIGNATURE_HEADER, verifyWebhook, webhookSecret } from "@chatq/gateway";
import type { TenantStore } from "@chatq/tenants";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import {
  type GatewayProcess,
  scenarioTenants,
  spawnGateway,
  TEST_PEPPER,
  workerEnvForGateways,
} from "./harness/gateway-process.ts";
import { createTopics, testKafka } from "./harness/kafka-io.ts";
import { type Scenario, uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { spawnWorker, type WorkerProcess } from "./harness/worker-process.ts";

let s: Scenario;
let fake: FakeOpenAI;
let worker: WorkerProcess;
let gateway: GatewayProcess;
let tenants: TenantStore;
let baseURL: string;
let db: ReturnType<typeof scenarioDb>;
const keys: Record<string, string> = {};

const client = (apiKey: string) => new OpenAI({ apiKey, baseURL, maxRetries: 0 });

beforeAll(async () => {
  s = uniqueScenario("gateway_sdk");
  fake = await startTestFake({ latencyMs: 20 });
  await createTopics(testKafka(s), s);
  worker = spawnWorker(s, fake.url, workerEnvForGateways(s));
  await worker.metricsUrl; // migrated, consuming
  gateway = spawnGateway(s, { GATEWAY_WEBHOOK_POLL_MS: "200" });
  baseURL = `${await gateway.url}/v1`;
  tenants = scenarioTenants(s);
  db = scenarioDb(s);
  await tenants.createTenant({ tenantId: "acme" });
  await tenants.createTenant({ tenantId: "tiny", rpm: 60 });
  await tenants.createTenant({ tenantId: "broke", dailyUsd: 0 });
  await tenants.createTenant({ tenantId: "minis", allowedModels: ["gpt-4o-mini"] });
  for (const t of ["acme", "tiny", "broke", "minis"]) keys[t] = (await tenants.createKey(t)).key;
});

afterAll(async () => {
  await gateway?.stop();
  await worker?.stop();
  await tenants?.close();
  await fake?.close();
  await db?.drop();
});

describe("the official openai SDK against the gateway", () => {
  it("gets a completion in OpenAI's shape", async () => {
    const c = await client(keys.acme ?? "").chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Where is Lisbon?" }],
      max_tokens: 30,
    });
    expect(c.object).toBe("chat.completion");
    expect(c.id).toMatch(/^chatcmpl-/);
    expect(c.choices[0]?.message.content).toContain("Where is Lisbon?");
    expect(c.choices[0]?.finish_reason).toMatch(/stop|length/);
    expect(c.usage?.total_tokens).toBeGreaterThan(0);
    // The tenant comes from the key: the worker stored it so.
    const [row] = await db.query<{ tenant: string }>(
      "select tenant from requests where request_id like 'acme/%'",
    );
    expect(row?.tenant).toBe("acme");
  });

  it("reads a stream: true answer as chunks", async () => {
    const stream = await client(keys.acme ?? "").chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Stream me Porto" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toContain("Stream me Porto");
    expect(usage).toMatchObject({ total_tokens: expect.any(Number) });
  });

  it("a retried call with the same Idempotency-Key gets the same reply and makes no second API call", async () => {
    const body = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Once only" }] };
    const opts = { headers: { "Idempotency-Key": "retry-me-1" } };
    const first = await client(keys.acme ?? "").chat.completions.create(body, opts);
    const second = await client(keys.acme ?? "").chat.completions.create(body, opts);
    expect(second.id).toBe(first.id);
    expect(second.choices[0]?.message.content).toBe(first.choices[0]?.message.content);
    expect(fake.stats().completions_by_client_request_id["acme/retry-me-1"]).toBe(1);
  });

  it("keeps a conversation's history with X-Chatq-Conversation-Id", async () => {
    const ask = (content: string) =>
      client(keys.acme ?? "").chat.completions.create(
        { model: "gpt-4o-mini", messages: [{ role: "user", content }] },
        { headers: { "X-Chatq-Conversation-Id": "trip" } },
      );
    await ask("Plan day one");
    const second = await ask("And day two?");
    // The fake counts user turns in what it was sent: the stored first turn came along.
    expect(second.choices[0]?.message.content).toContain("Echo (turn 2)");
  });

  it("a revoked key gets AuthenticationError, as does an unknown one", async () => {
    const { key, info } = await tenants.createKey("acme");
    await client(key).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
    });
    await tenants.revokeKey("acme", info.prefix);
    await expect(waitForStatus(key, 401)).resolves.toBe(401);
    await expect(
      client(key).chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(
      client(`cq_00000000_${"A".repeat(43)}`).chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("over the tenant's quota gets RateLimitError with retry-after", async () => {
    const calls = Array.from({ length: 4 }, (_, i) =>
      client(keys.tiny ?? "").chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: `burst ${i}` }],
      }),
    );
    const results = await Promise.allSettled(calls);
    const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    expect(refused.length).toBeGreaterThan(0);
    expect(results.length - refused.length).toBeGreaterThan(0);
    for (const err of refused) {
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get("retry-after")).toBe("1");
    }
  });

  it("a tenant at its budget gets RateLimitError budget_exceeded; a model not allowed gets 403", async () => {
    const broke = client(keys.broke ?? "").chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
    });
    await expect(broke).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(broke).rejects.toMatchObject({ code: "budget_exceeded" });
    await expect(
      client(keys.minis ?? "").chat.completions.create({
        model: "gpt-4o",
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it("answers curl", async () => {
    const { stdout } = await promisify(execFile)("curl", [
      "-sS",
      `${baseURL}/chat/completions`,
      "-H",
      `Authorization: Bearer ${keys.acme}`,
      "-H",
      "Content-Type: application/json",
      "-d",
      JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello from curl" }] }),
    ]);
    const body = JSON.parse(stdout) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content).toContain("Hello from curl");
  });

  it("queues requests asynchronously: 202 with ids, then GET /v1/requests/{id} gives the stored reply", async () => {
    const res = await fetch(`${baseURL}/requests`, {
      method: "POST",
      headers: { authorization: `Bearer ${keys.acme}`, "content-type": "application/json" },
      body: JSON.stringify({
        requests: [
          { request_id: "batch-1", messages: [{ role: "user", content: "First of the batch" }] },
          { messages: [{ role: "user", content: "Second of the batch" }], conversation_id: "batch-conv" },
        ],
      }),
    });
    expect(res.status).toBe(202);
    const { data } = (await res.json()) as { data: { id: string; status: string }[] };
    expect(data[0]).toEqual({ id: "batch-1", status: "queued" });
    expect(data).toHaveLength(2);
    for (const { id } of data) {
      const reply = await pollReply(id);
      expect(reply).toMatchObject({ id, status: "completed" });
    }
    expect(await pollReply("batch-1")).toMatchObject({
      content: expect.stringContaining("First of the batch"),
    });
    // Another tenant's key sees nothing of acme's.
    const other = await fetch(`${baseURL}/requests/batch-1`, {
      headers: { authorization: `Bearer ${keys.tiny}` },
    });
    expect(await other.json()).toEqual({ id: "batch-1", status: "pending" });
  });

  it("delivers a signed webhook for a callback_url, retrying until the receiver takes it", async () => {
    const received: { body: string; signature: string; status: number }[] = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString("utf8");
      });
      req.on("end", () => {
        // The first delivery fails: the gateway must try again.
        const status = received.length === 0 ? 500 : 200;
        received.push({ body, signature: String(req.headers[SIGNATURE_HEADER]), status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    try {
      const port = (receiver.address() as AddressInfo).port;
      const res = await fetch(`${baseURL}/requests`, {
        method: "POST",
        headers: { authorization: `Bearer ${keys.acme}`, "content-type": "application/json" },
        body: JSON.stringify({
          requests: [
            {
              request_id: "hooked-1",
              messages: [{ role: "user", content: "Call me back" }],
              callback_url: `http://127.0.0.1:${port}/hook`,
            },
          ],
        }),
      });
      expect(res.status).toBe(202);
      await until(() => received.some((r) => r.status === 200));
      expect(received.map((r) => r.status)).toEqual([500, 200]);
      const last = received[1];
      expect(JSON.parse(last?.body ?? "{}")).toMatchObject({
        id: "hooked-1",
        status: "completed",
        content: expect.stringContaining("Call me back"),
      });
      expect(
        verifyWebhook(
          webhookSecret(TEST_PEPPER, "acme"),
          last?.body ?? "",
          last?.signature ?? "",
          Date.now(),
        ),
      ).toBe(true);
      expect(
        verifyWebhook(
          webhookSecret(TEST_PEPPER, "tiny"),
          last?.body ?? "",
          last?.signature ?? "",
          Date.now(),
        ),
      ).toBe(false);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });

  it("stores no plaintext key in any table", async () => {
    const tables = await db.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = current_schema()",
    );
    for (const { table_name } of tables) {
      const rows = await db.query<{ t: string }>(`select t::text as t from ${table_name} t`);
      for (const key of Object.values(keys)) {
        // cq_<id>_<secret>: the secret is base64url and may itself hold "_", so take all after the second one.
        const secret = key.slice(key.indexOf("_", key.indexOf("_") + 1) + 1);
        expect(secret.length).toBeGreaterThanOrEqual(40);
        expect(rows.some((r) => r.t.includes(secret))).toBe(false);
      }
    }
    const [k] = await db.query<{ n: string }>("select count(*) as n from api_keys");
    expect(Number(k?.n)).toBeGreaterThanOrEqual(4);
  });
});

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 50));
}

/** The async API's state of a request until it is answered (bounded by vitest's timeout). */
async function pollReply(id: string): Promise<Record<string, unknown>> {
  for (;;) {
    const res = await fetch(`${baseURL}/requests/${id}`, {
      headers: { authorization: `Bearer ${keys.acme}` },
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (body.status !== "pending") return body;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A revocation reaches the gateway within its cache TTL: ask until the status comes (bounded by vitest). */
async function waitForStatus(key: string, status: number): Promise<number> {
  for (;;) {
    const res = await fetch(`${baseURL}/models`, { headers: { authorization: `Bearer ${key}` } });
    await res.body?.cancel();
    if (res.status === status) return res.status;
    await new Promise((r) => setTimeout(r, 50));
  }
}
