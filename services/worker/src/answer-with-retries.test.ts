import { type ChatAnswer, type ChatClient, DEFAULT_RETRY_POLICY, LlmError } from "@chatq/llm";
import { createRateLimiter } from "@chatq/ratelimit";
import { describe, expect, it } from "vitest";
import { type AnswerDeps, answerWithRetries, type CallTarget } from "./answer-with-retries.ts";
import { ApiGates } from "./api-gates.ts";
import type { Job } from "./job.ts";
import { WorkerEvents } from "./worker-events.ts";

const answer: ChatAnswer = {
  content: "hi",
  finishReason: "stop",
  model: "gpt-4o-mini",
  usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
  cachedPromptTokens: 0,
  headers: new Headers(),
  apiMs: 1,
};
const client = (fail: () => LlmError | undefined): ChatClient & { calls: number } => {
  const c = {
    calls: 0,
    async complete() {
      c.calls++;
      const err = fail();
      if (err) throw err;
      return answer;
    },
    async probe() {},
  };
  return c;
};
const job = (): Job =>
  ({
    request: { request_id: "r1", messages: [{ role: "user", content: "hi" }] },
    model: "chat-default",
    priority: "interactive",
    key: "r1",
    receivedAt: 0,
    originMs: 0,
    lease: new AbortController().signal,
  }) as unknown as Job;
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, Math.min(ms, 5));
    const early = () => {
      clearTimeout(t);
      r();
    };
    signal?.addEventListener("abort", early, { once: true });
  });

async function deps(rpm = 0): Promise<AnswerDeps & { close(): Promise<void> }> {
  const limiter = await createRateLimiter({ limits: { default: { rpm, tpm: 0 } } });
  const gates = new ApiGates({
    probeAccount: async () => {},
    accountMaxOpenMs: 100,
    modelMaxOpenMs: 100,
    now: () => performance.now(),
    sleep,
    random: () => 0.5,
    onChange: () => {},
  });
  return {
    client: client(() => undefined),
    limiter,
    gates,
    audit: () => {},
    events: new WorkerEvents(),
    policy: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 2 },
    timeoutMs: 1000,
    sleep,
    random: () => 0.5,
    now: () => performance.now(),
    close: () => limiter.close(),
  };
}
const weight = { promptTokens: 10, outputBudget: 10 };
const at = (c: ChatClient, isLast = false): CallTarget => ({
  model: "gpt-4o-mini",
  key: "@primary",
  client: c,
  isLast,
  waitBudgetMs: 1000,
});

describe("answerWithRetries at a routed deployment", () => {
  it("leaves a deployment whose 429 asks for longer than its wait budget, after one call", async () => {
    const d = await deps();
    const primary = client(
      () => new LlmError("rate_limited", "slow down", { status: 429, retryAfterMs: 30_000 }),
    );
    const tried = await answerWithRetries(job(), [], weight, d, at(primary));
    expect(tried).toMatchObject({ ok: "fallback", reason: "rate_limited", attempts: 1 });
    expect(primary.calls).toBe(1);
    await d.close();
  });

  it("retries a 429 with a short retry-after on the same deployment", async () => {
    const d = await deps();
    let n = 0;
    const primary = client(() =>
      n++ === 0 ? new LlmError("rate_limited", "slow down", { status: 429, retryAfterMs: 10 }) : undefined,
    );
    expect(await answerWithRetries(job(), [], weight, d, at(primary))).toMatchObject({
      ok: true,
      attempts: 2,
    });
    await d.close();
  });

  it("leaves for a context-length refusal, but fails it at the last deployment", async () => {
    const d = await deps();
    const tooLong = () => new LlmError("context_length", "too long", { status: 400 });
    expect(await answerWithRetries(job(), [], weight, d, at(client(tooLong)))).toMatchObject({
      ok: "fallback",
      reason: "context_length",
    });
    expect(await answerWithRetries(job(), [], weight, d, at(client(tooLong), true))).toMatchObject({
      ok: false,
      error: { code: "context_length" },
    });
    await d.close();
  });

  it("leaves a deployment whose budget does not come within its wait budget, without calling it", async () => {
    const d = await deps(1); // 1 RPM: the second request waits a minute for budget
    const primary = client(() => undefined);
    expect(await answerWithRetries(job(), [], weight, d, at(primary))).toMatchObject({ ok: true });
    const second = await answerWithRetries(job(), [], weight, d, { ...at(primary), waitBudgetMs: 50 });
    expect(second).toMatchObject({ ok: "fallback", reason: "rate_limited", attempts: 0 });
    expect(primary.calls).toBe(1);
    await d.close();
  });
});
