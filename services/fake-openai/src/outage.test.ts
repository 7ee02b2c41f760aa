import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  AuthenticationError,
  InternalServerError,
  RateLimitError,
} from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "./index.ts";
import { outageAnswer } from "./outage.ts";

// An outage must look to the real SDK the way a real one does: the same error classes, bodies and headers, for
// completions and for the /v1/models probe a worker uses to learn the API is back.

const KEY = "sk-test-outage-0000abcd";
const ask = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "hello" }] };

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to fail");
}

const completion = (presentedKey: string | undefined) => ({ presentedKey, endpoint: "completions" as const });

describe("outageAnswer", () => {
  it("answers nothing special without an outage, or when connections are refused (no call gets through)", () => {
    expect(outageAnswer(null, completion(KEY))).toBeUndefined();
    expect(outageAnswer({ kind: "refuse_connections" }, completion(KEY))).toBeUndefined();
  });

  it("a server error is OpenAI's server_error body, 503 unless told, with retry-after only when asked", () => {
    const plain = outageAnswer({ kind: "server_error" }, completion(KEY));
    expect(plain?.kind === "error" && plain.reply.status).toBe(503);
    expect(plain?.kind === "error" && plain.reply.body()).toMatchObject({
      error: { type: "server_error", message: "The server is overloaded or not ready yet." },
    });
    expect(plain?.kind === "error" && plain.reply.headers).toEqual({});
    const waiting = outageAnswer({ kind: "server_error", status: 502, retryAfterMs: 1500 }, completion(KEY));
    expect(waiting?.kind === "error" && waiting.reply.status).toBe(502);
    expect(waiting?.kind === "error" && waiting.reply.headers).toEqual({
      "retry-after-ms": "1500",
      "retry-after": "2",
    });
  });

  it("no quota fails completions with 429 insufficient_quota, while the models list still answers", () => {
    const answer = outageAnswer({ kind: "insufficient_quota" }, completion(KEY));
    expect(answer?.kind === "error" && answer.reply.status).toBe(429);
    expect(answer?.kind === "error" && answer.reply.code).toBe("insufficient_quota");
    expect(
      outageAnswer({ kind: "insufficient_quota" }, { presentedKey: KEY, endpoint: "models" }),
    ).toBeUndefined();
  });

  it("a rejected key names the key it was sent (last 4 characters), whichever key that is", () => {
    const answer = outageAnswer({ kind: "invalid_api_key" }, completion(KEY));
    expect(answer?.kind === "error" && answer.reply.status).toBe(401);
    expect(answer?.kind === "error" && answer.reply.code).toBe("invalid_api_key");
    expect(answer?.kind === "error" && answer.reply.message).toContain("abcd.");
    const none = outageAnswer({ kind: "invalid_api_key" }, completion(undefined));
    expect(none?.kind === "error" && none.reply.message).toContain("You didn't provide an API key");
  });
});

describe("outages through the official SDK", () => {
  let fake: FakeOpenAI;
  let client: OpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: KEY });
    client = new OpenAI({ apiKey: KEY, baseURL: fake.url, maxRetries: 0 });
  });
  afterEach(async () => {
    fake.configure({ outage: null, latencyMs: 0 });
    await fake.settled();
    fake.reset();
  });
  afterAll(() => fake.close());

  it("server_error: completions and the models probe get InternalServerError until the outage is cleared", async () => {
    fake.configure({ outage: { kind: "server_error", status: 503, retryAfterMs: 2000 } });
    const err = await failure(client.chat.completions.create(ask));
    expect(err).toBeInstanceOf(InternalServerError);
    expect(err).toMatchObject({ status: 503, type: "server_error" });
    expect((err as InternalServerError).headers?.get("retry-after-ms")).toBe("2000");
    await expect(client.models.list()).rejects.toBeInstanceOf(InternalServerError);
    expect(fake.stats().faults_injected_total.errors).toBe(2);

    fake.configure({ outage: null });
    await expect(client.chat.completions.create(ask)).resolves.toMatchObject({ object: "chat.completion" });
  });

  it("an outage with forMs ends by itself", async () => {
    fake.configure({ outage: { kind: "server_error", forMs: 150 } });
    await expect(client.chat.completions.create(ask)).rejects.toBeInstanceOf(InternalServerError);
    await vi.waitFor(() => expect(fake.config().outage).toBeNull(), { timeout: 3000 });
    await expect(client.chat.completions.create(ask)).resolves.toMatchObject({ object: "chat.completion" });
  });

  it("the apiKey option is checked by completions and by the models probe alike", async () => {
    fake.configure({ apiKey: "sk-rotated-elsewhere" });
    try {
      await expect(client.chat.completions.create(ask)).rejects.toBeInstanceOf(AuthenticationError);
      await expect(client.models.list()).rejects.toBeInstanceOf(AuthenticationError);
    } finally {
      fake.configure({ apiKey: KEY });
    }
    await expect(client.models.list()).resolves.toBeDefined();
  });

  it("invalid_api_key: every call is 401 invalid_api_key, the right key included, until it ends", async () => {
    fake.configure({ outage: { kind: "invalid_api_key" } });
    const err = await failure(client.chat.completions.create(ask));
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: "invalid_api_key" });
    await expect(client.models.list()).rejects.toBeInstanceOf(AuthenticationError);
    fake.configure({ outage: null });
    await expect(client.models.list()).resolves.toBeDefined();
    await expect(client.chat.completions.create(ask)).resolves.toMatchObject({ object: "chat.completion" });
  });

  it("insufficient_quota: completions get RateLimitError insufficient_quota, the models probe succeeds", async () => {
    fake.configure({ outage: { kind: "insufficient_quota" } });
    const err = await failure(client.chat.completions.create(ask));
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ status: 429, code: "insufficient_quota" });
    await expect(client.models.list()).resolves.toBeDefined();
    fake.configure({ outage: null });
    await expect(client.chat.completions.create(ask)).resolves.toMatchObject({ object: "chat.completion" });
  });

  it("hang: calls are accepted and never answered; the client's timeout is the way out", async () => {
    fake.configure({ outage: { kind: "hang" } });
    const err = await failure(client.chat.completions.create(ask, { timeout: 200 }));
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    await expect(client.models.list({ timeout: 200 })).rejects.toBeInstanceOf(APIConnectionTimeoutError);
    expect(fake.stats().faults_injected_total.hangs).toBe(2);
    await vi.waitFor(() => expect(fake.stats().in_flight).toBe(0));
    fake.configure({ outage: null });
    await expect(client.chat.completions.create(ask)).resolves.toMatchObject({ object: "chat.completion" });
  });

  it("refuse_connections: open calls are dropped, new ones refused, and it listens again on the same port", async () => {
    fake.configure({ latencyMs: 5000 });
    const open = client.chat.completions.create(ask, { timeout: 20_000 });
    await vi.waitFor(() => expect(fake.stats().in_flight).toBe(1));
    fake.configure({ outage: { kind: "refuse_connections" } });
    await fake.settled();
    expect(await failure(open)).toBeInstanceOf(APIConnectionError);
    const refused = await failure(client.models.list());
    expect(refused).toBeInstanceOf(APIConnectionError);
    expect(String((refused as APIConnectionError).cause)).toMatch(/ECONNREFUSED|fetch failed/);

    fake.configure({ outage: null, latencyMs: 0 });
    await fake.settled();
    // The same client, the same URL: the port did not change.
    await expect(client.chat.completions.create(ask)).resolves.toMatchObject({ object: "chat.completion" });
  });

  it("over HTTP, refuse_connections needs forMs (nothing could end it), and with it comes back by itself", async () => {
    const admin = `${new URL(fake.url).origin}/_fake/config`;
    const post = (body: unknown) =>
      fetch(admin, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await post({ outage: { kind: "refuse_connections" } })).status).toBe(400);
    expect((await post({ outage: { kind: "no_such_outage" } })).status).toBe(400);
    expect((await post({ outage: { kind: "refuse_connections", forMs: 300 } })).status).toBe(200);
    await fake.settled();
    await expect(client.models.list()).rejects.toBeInstanceOf(APIConnectionError);
    await vi.waitFor(async () => expect(await client.models.list()).toBeDefined(), { timeout: 5000 });
  });

  it("close() works while connections are refused", async () => {
    const other = await startFakeOpenAI({ outage: { kind: "refuse_connections" } });
    await other.settled();
    await expect(other.close()).resolves.toBeUndefined();
  });
});
