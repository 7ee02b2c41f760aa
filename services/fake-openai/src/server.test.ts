import OpenAI, {
  APIConnectionTimeoutError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
} from "openai";
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "./index.ts";

const KEY = "sk-test-0123456789abcd";

function clientFor(fake: FakeOpenAI, apiKey = KEY, maxRetries = 0): OpenAI {
  return new OpenAI({ apiKey, baseURL: fake.url, maxRetries });
}

function ask(content: string, extra: Partial<ChatCompletionCreateParamsNonStreaming> = {}) {
  return { model: "gpt-4o-mini", messages: [{ role: "user" as const, content }], ...extra };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to fail");
}

describe("fake OpenAI through the official SDK", () => {
  let fake: FakeOpenAI;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: KEY });
    client = clientFor(fake);
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it("answers with the full chat.completion shape and plausible usage", async () => {
    const completion = await client.chat.completions.create(ask("Say this is a test!"));
    expect(completion).toMatchObject({
      object: "chat.completion",
      model: "gpt-4o-mini-2024-07-18",
      service_tier: "default",
      choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", refusal: null } }],
    });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.system_fingerprint).toMatch(/^fp_/);
    expect(completion.choices[0]?.message.content).toMatch(/^Echo \(turn 1\): Say this is a test!\n/);
    // The documented example: 3 framing + "user" + 6 tokens of text + 3 priming.
    expect(completion.usage?.prompt_tokens).toBe(13);
    expect(completion.usage?.completion_tokens).toBeGreaterThanOrEqual(20);
    expect(completion.usage?.total_tokens).toBe(
      (completion.usage?.prompt_tokens ?? 0) + (completion.usage?.completion_tokens ?? 0),
    );
    expect(completion.usage?.completion_tokens_details).toMatchObject({ reasoning_tokens: 0 });
  });

  it("gives the same content for the same request, and counts the user turns it was sent", async () => {
    const body = ask("What is the capital of France?", { seed: 7 });
    const first = await client.chat.completions.create(body);
    const again = await client.chat.completions.create(body);
    expect(again.choices[0]?.message.content).toBe(first.choices[0]?.message.content);
    expect(again.id).not.toBe(first.id);

    const otherSeed = await client.chat.completions.create({ ...body, seed: 8 });
    expect(otherSeed.choices[0]?.message.content).not.toBe(first.choices[0]?.message.content);

    const withHistory = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!" },
        { role: "user", content: "And now?" },
      ],
    });
    expect(withHistory.choices[0]?.message.content).toMatch(/^Echo \(turn 2\): And now\?/);
  });

  it("cuts the answer at max_tokens with finish_reason length, and at a stop sequence", async () => {
    const short = await client.chat.completions.create(ask("Tell me a long story", { max_tokens: 5 }));
    expect(short.choices[0]?.finish_reason).toBe("length");
    expect(short.usage?.completion_tokens).toBe(5);

    const stopped = await client.chat.completions.create(ask("Stop early", { stop: ["turn"] }));
    expect(stopped.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: "Echo (" } });
  });

  it("returns a JSON object for response_format json_object, and requires the word json like the API", async () => {
    const completion = await client.chat.completions.create(
      ask("Reply in JSON please", { response_format: { type: "json_object" } }),
    );
    expect(JSON.parse(completion.choices[0]?.message.content ?? "")).toMatchObject({ turn: 1 });

    const err = await failure(
      client.chat.completions.create(ask("no keyword", { response_format: { type: "json_object" } })),
    );
    expect(err).toBeInstanceOf(BadRequestError);
  });

  it("unknown model → NotFoundError with OpenAI's body", async () => {
    const err = await failure(client.chat.completions.create(ask("hi", { model: "gpt-9" })));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({
      status: 404,
      code: "model_not_found",
      type: "invalid_request_error",
      param: null,
      error: { message: "The model `gpt-9` does not exist or you do not have access to it." },
    });
  });

  it("wrong key → AuthenticationError showing only its last 4 characters, until configure fixes the key", async () => {
    const wrong = clientFor(fake, "sk-wrong-key-zyxw");
    const err = await failure(wrong.chat.completions.create(ask("hi")));
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ code: "invalid_api_key" });
    const message = (err as AuthenticationError).message;
    expect(message).toContain("Incorrect API key provided: sk-");
    expect(message).toContain("zyxw.");
    expect(message).not.toContain("wrong-key");

    fake.configure({ apiKey: "sk-wrong-key-zyxw" });
    try {
      await expect(wrong.chat.completions.create(ask("hi"))).resolves.toMatchObject({
        object: "chat.completion",
      });
      await expect(client.chat.completions.create(ask("hi"))).rejects.toBeInstanceOf(AuthenticationError);
    } finally {
      fake.configure({ apiKey: KEY });
    }
  });

  it("the key can also be fixed over HTTP with POST /_fake/config", async () => {
    const other = clientFor(fake, "sk-other-key-1111");
    await expect(other.chat.completions.create(ask("hi"))).rejects.toBeInstanceOf(AuthenticationError);
    const origin = new URL(fake.url).origin;
    const response = await fetch(`${origin}/_fake/config`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ apiKey: "sk-other-key-1111" }),
    });
    expect(response.status).toBe(200);
    try {
      await expect(other.chat.completions.create(ask("hi"))).resolves.toMatchObject({
        object: "chat.completion",
      });
    } finally {
      fake.configure({ apiKey: KEY });
    }
  });

  it("rejects what the API rejects, naming the parameter", async () => {
    const cases: Array<[unknown, string | null, string | null]> = [
      [{ model: "gpt-4o-mini", messages: [] }, "messages", "empty_array"],
      [
        { model: "gpt-4o-mini", messages: [{ role: "robot", content: "x" }] },
        "messages[0].role",
        "invalid_value",
      ],
      [
        { model: "gpt-4o-mini", messages: [{ role: "user", content: 42 }] },
        "messages[0].content",
        "invalid_type",
      ],
      [{ ...ask("x"), temperature: 3 }, "temperature", "decimal_above_max_value"],
      [{ ...ask("x"), max_tokens: 100_000 }, "max_tokens", "invalid_value"],
      [{ ...ask("x"), frobnicate: true }, null, null],
      [{ ...ask("x"), model: "gpt-5-mini", max_tokens: 10 }, "max_tokens", "unsupported_parameter"],
    ];
    for (const [body, param, code] of cases) {
      const err = await failure(
        client.chat.completions.create(body as ChatCompletionCreateParamsNonStreaming),
      );
      expect(err, JSON.stringify(body)).toBeInstanceOf(BadRequestError);
      expect(err, JSON.stringify(body)).toMatchObject({ param, code, type: "invalid_request_error" });
    }
  });

  it("refuses stream: true with a clear error", async () => {
    const err = await failure(client.chat.completions.create({ ...ask("hi"), stream: true }));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err).toMatchObject({ param: "stream", code: "unsupported_parameter" });
    expect((err as BadRequestError).message).toMatch(/not supported by chatq's fake/);
  });

  it("context_length_exceeded when prompt + max_tokens exceed the window, or the prompt alone does", async () => {
    const withBudget = await failure(
      client.chat.completions.create({ ...ask("a modest prompt"), model: "gpt-4", max_tokens: 8190 }),
    );
    expect(withBudget).toBeInstanceOf(BadRequestError);
    expect(withBudget).toMatchObject({ code: "context_length_exceeded", param: "messages" });

    const huge = await failure(
      client.chat.completions.create({ ...ask("hello ".repeat(9000)), model: "gpt-4" }),
    );
    expect(huge).toMatchObject({ status: 400, code: "context_length_exceeded" });
  });

  it("lists its models", async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(
      expect.arrayContaining(["gpt-4o-mini", "gpt-4.1", "o4-mini", "gpt-5", "gpt-3.5-turbo", "gpt-4"]),
    );
    await expect(client.models.retrieve("gpt-4o")).resolves.toMatchObject({ id: "gpt-4o", object: "model" });
    await expect(client.models.retrieve("nope")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("answers raw HTTP mistakes the way the API does", async () => {
    const post = (
      path: string,
      body: string,
      headers: Record<string, string> = { authorization: `Bearer ${KEY}` },
    ) => fetch(`${fake.url}${path}`, { method: "POST", headers, body });
    const notJson = await post("/chat/completions", "{nope");
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { message: string } }).error.message).toMatch(
      /parse the JSON body/,
    );

    const noKey = await post("/chat/completions", "{}", {});
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ error: { code: "invalid_api_key" } });

    const wrongPath = await post("/completions/chat", "{}");
    expect(wrongPath.status).toBe(404);
    expect(await wrongPath.json()).toMatchObject({
      error: { message: "Invalid URL (POST /v1/completions/chat)" },
    });
    expect(wrongPath.headers.get("x-request-id")).toMatch(/^req_/);
  });

  it("counts 200 answers per X-Client-Request-Id", async () => {
    const withId = (id: string) => ({ headers: { "X-Client-Request-Id": id } });
    await client.chat.completions.create(ask("one"), withId("req-1"));
    await client.chat.completions.create(ask("one"), withId("req-1"));
    await client.chat.completions.create(ask("two"), withId("req-2"));
    await failure(client.chat.completions.create(ask("three [[fail:503x1]]"), withId("req-3")));
    await client.chat.completions.create(ask("three [[fail:503x1]]"), withId("req-3"));
    const stats = fake.stats();
    expect(stats.completions_by_client_request_id).toEqual({ "req-1": 2, "req-2": 1, "req-3": 1 });
    expect(stats).toMatchObject({
      requests_total: 5,
      completions_total: 4,
      by_status: { "200": 4, "503": 1 },
      by_model: { "gpt-4o-mini": 5 },
      faults_injected_total: { errors: 1, hangs: 0 },
      in_flight: 0,
    });
    expect(stats.prompt_tokens_total).toBeGreaterThan(0);
    expect(stats.max_concurrent).toBeGreaterThanOrEqual(1);

    const origin = new URL(fake.url).origin;
    const overHttp = (await (await fetch(`${origin}/_fake/stats`)).json()) as { completions_total: number };
    expect(overHttp.completions_total).toBe(4);
    await fetch(`${origin}/_fake/reset`, { method: "POST" });
    expect(fake.stats().completions_total).toBe(0);
  });
});

describe("fault markers through the SDK", () => {
  let fake: FakeOpenAI;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: KEY });
    client = clientFor(fake);
  });
  afterAll(() => fake.close());

  it("[[fail:503x2]]: the first two identical requests get 503 (InternalServerError), the third succeeds", async () => {
    const body = ask("flaky upstream [[fail:503x2]]");
    for (let i = 0; i < 2; i++) {
      const err = await failure(client.chat.completions.create(body));
      expect(err).toBeInstanceOf(InternalServerError);
      expect(err).toMatchObject({ status: 503, type: "server_error" });
    }
    await expect(client.chat.completions.create(body)).resolves.toMatchObject({ object: "chat.completion" });
    // Another text with the same marker has its own count.
    await expect(client.chat.completions.create(ask("other [[fail:503x2]]"))).rejects.toBeInstanceOf(
      InternalServerError,
    );
  });

  it("[[fail:500x1]] fails once", async () => {
    const body = ask("once [[fail:500x1]]");
    await expect(client.chat.completions.create(body)).rejects.toMatchObject({ status: 500 });
    await expect(client.chat.completions.create(body)).resolves.toMatchObject({ object: "chat.completion" });
  });

  it("[[fail:400]] always fails", async () => {
    for (let i = 0; i < 3; i++) {
      await expect(client.chat.completions.create(ask("bad [[fail:400]]"))).rejects.toBeInstanceOf(
        BadRequestError,
      );
    }
  });

  it("[[fail:429x1]]: a RateLimitError asking for 200 ms, which the SDK's own retry honours", async () => {
    const err = await failure(client.chat.completions.create(ask("busy [[fail:429x1]]")));
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).headers?.get("retry-after-ms")).toBe("200");
    expect(err).toMatchObject({ code: "rate_limit_exceeded", type: "requests" });

    const retrying = clientFor(fake, KEY, 1);
    const completion = await retrying.chat.completions.create(ask("busy again [[fail:429x1]]"));
    expect(completion.object).toBe("chat.completion");
  });

  it("[[fail:quota]]: 429 insufficient_quota", async () => {
    await expect(client.chat.completions.create(ask("broke [[fail:quota]]"))).rejects.toMatchObject({
      status: 429,
      code: "insufficient_quota",
    });
  });

  it("[[hang:x1]]: the first request never answers (SDK timeout), the socket is freed, the next one succeeds", async () => {
    const body = ask("stuck [[hang:x1]]");
    const err = await failure(client.chat.completions.create(body, { timeout: 300 }));
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    await vi.waitFor(() => expect(fake.stats().in_flight).toBe(0));
    await expect(client.chat.completions.create(body, { timeout: 5000 })).resolves.toMatchObject({
      object: "chat.completion",
    });
  });
});

describe("rate limits through the SDK", () => {
  const clock = { now: 0 };
  let fake: FakeOpenAI;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: KEY, now: () => clock.now });
    client = clientFor(fake);
  });
  afterEach(() => {
    fake.configure({ rpm: 0, tpm: 0 });
    clock.now = 0;
  });
  afterAll(() => fake.close());

  it("RPM exceeded → RateLimitError with retry-after-ms and x-ratelimit-* headers; the bucket refills", async () => {
    fake.configure({ rpm: 2 });
    await client.chat.completions.create(ask("a"));
    const second = await client.chat.completions.create(ask("b")).withResponse();
    expect(second.response.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(second.response.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(second.response.headers.get("x-request-id")).toMatch(/^req_/);
    expect(second.response.headers.get("openai-version")).toBeTruthy();
    expect(second.response.headers.get("openai-processing-ms")).toMatch(/^\d+$/);

    const err = await failure(client.chat.completions.create(ask("c")));
    expect(err).toBeInstanceOf(RateLimitError);
    const limited = err as RateLimitError;
    expect(limited).toMatchObject({ code: "rate_limit_exceeded", type: "requests" });
    expect(limited.message).toContain(
      "Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): Limit 2, Used 2, Requested 1. Please try again in 30s.",
    );
    expect(limited.headers?.get("retry-after-ms")).toBe("30000");
    expect(limited.headers?.get("retry-after")).toBe("30");
    expect(limited.headers?.get("x-ratelimit-limit-requests")).toBe("2");
    expect(limited.headers?.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(limited.headers?.get("x-ratelimit-reset-requests")).toBe("1m0s");
    expect(fake.stats().rate_limited_total).toEqual({ requests: 1, tokens: 0 });

    clock.now += 30_000;
    await expect(client.chat.completions.create(ask("d"))).resolves.toMatchObject({
      object: "chat.completion",
    });
  });

  it("charges TPM with prompt + max_tokens at arrival, or prompt + defaultMaxTokens when unset", async () => {
    fake.configure({ tpm: 3000 });
    const first = await client.chat.completions.create(ask("count me", { max_tokens: 500 })).withResponse();
    const prompt = first.data.usage?.prompt_tokens ?? 0;
    expect(first.response.headers.get("x-ratelimit-limit-tokens")).toBe("3000");
    expect(first.response.headers.get("x-ratelimit-remaining-tokens")).toBe(String(3000 - prompt - 500));

    const second = await client.chat.completions.create(ask("count me")).withResponse();
    expect(second.response.headers.get("x-ratelimit-remaining-tokens")).toBe(
      String(3000 - 2 * prompt - 500 - 1024),
    );

    const err = await failure(client.chat.completions.create(ask("count me", { max_tokens: 2000 })));
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ type: "tokens" });
    expect((err as RateLimitError).message).toContain("on tokens per min (TPM): Limit 3000");
  });

  it("a request bigger than the whole TPM limit is 'Request too large'", async () => {
    fake.configure({ tpm: 100 });
    const err = await failure(client.chat.completions.create(ask("hi", { max_tokens: 500 })));
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).message).toMatch(/^429 Request too large for gpt-4o-mini/);
  });

  it("per-model limits override the defaults, and each model has its own budget", async () => {
    fake.configure({ rpm: 1, modelLimits: { "gpt-4o": { rpm: 3 } } });
    await client.chat.completions.create(ask("x"));
    await expect(client.chat.completions.create(ask("x"))).rejects.toBeInstanceOf(RateLimitError);
    for (let i = 0; i < 3; i++) await client.chat.completions.create(ask("x", { model: "gpt-4o" }));
    await expect(client.chat.completions.create(ask("x", { model: "gpt-4o" }))).rejects.toBeInstanceOf(
      RateLimitError,
    );
    fake.configure({ modelLimits: {} });
  });
});

describe("random faults", () => {
  it("errorRate 1 answers every admitted request with a 5xx", async () => {
    const fake = await startFakeOpenAI({ errorRate: 1, seed: 3 });
    try {
      const client = clientFor(fake, "anything");
      const statuses = new Set<number>();
      for (let i = 0; i < 12; i++) {
        const err = await failure(client.chat.completions.create(ask(`n${i}`)));
        expect(err).toBeInstanceOf(InternalServerError);
        statuses.add((err as InternalServerError).status);
      }
      expect([...statuses].every((s) => [500, 502, 503].includes(s))).toBe(true);
    } finally {
      await fake.close();
    }
  });

  it("timeoutRate 1 never answers; close() still returns with requests hanging", async () => {
    const fake = await startFakeOpenAI({ timeoutRate: 1 });
    const client = clientFor(fake, "anything");
    const err = await failure(client.chat.completions.create(ask("x"), { timeout: 200 }));
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    const pending = client.chat.completions.create(ask("y"), { timeout: 10_000 });
    await vi.waitFor(() => expect(fake.stats().in_flight).toBe(1));
    await fake.close();
    await expect(pending).rejects.toBeDefined();
  });

  it("latency comes from the injected random source", async () => {
    const draws: number[] = [];
    const random = () => {
      draws.push(0.5);
      return 0.5;
    };
    const fake = await startFakeOpenAI({ latencyMs: 5, jitterMs: 5, random });
    try {
      await clientFor(fake, "k").chat.completions.create(ask("x"));
      expect(draws.length).toBe(1);
    } finally {
      await fake.close();
    }
  });
});
