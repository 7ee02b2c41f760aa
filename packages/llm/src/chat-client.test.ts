import { describe, expect, it } from "vitest";
import { apiParams, createChatClient } from "./chat-client.ts";
import { outputBudget, outputLimitParam } from "./model-catalog.ts";

describe("the answer limit under the name each model takes", () => {
  it("reasoning models get max_completion_tokens, whichever name the producer used", () => {
    for (const model of ["o4-mini", "gpt-5", "gpt-5-mini-2025-08-07", "o1", "o3-mini"]) {
      expect(outputLimitParam(model), model).toBe("max_completion_tokens");
      expect(apiParams(model, { max_tokens: 300, temperature: 1 })).toEqual({
        max_completion_tokens: 300,
        temperature: 1,
      });
    }
  });

  it("classic models get max_tokens, which every OpenAI-compatible server knows", () => {
    for (const model of ["gpt-4o-mini", "gpt-4.1", "gpt-3.5-turbo", "my-finetune"]) {
      expect(outputLimitParam(model), model).toBe("max_tokens");
      expect(apiParams(model, { max_completion_tokens: 42 })).toEqual({ max_tokens: 42 });
    }
  });

  it("unset params are left out, and the budget falls back to the model's default", () => {
    expect(apiParams("gpt-4o", undefined)).toEqual({});
    expect(outputBudget("gpt-4o", {})).toBe(1024);
    expect(outputBudget("gpt-5", { max_completion_tokens: 77 })).toBe(77);
  });
});

describe("Azure OpenAI's shape", () => {
  it("calls the deployment's path with api-version and an api-key header, and reads cached prompt tokens", async () => {
    const seen: { url: string; headers: Headers }[] = [];
    const fetchStub = (async (url: string | URL | Request, init?: RequestInit) => {
      seen.push({ url: String(url), headers: new Headers(init?.headers) });
      const body = {
        id: "x",
        object: "chat.completion",
        created: 0,
        model: "gpt-4o-mini",
        choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
        usage: {
          prompt_tokens: 10,
          completion_tokens: 2,
          total_tokens: 12,
          prompt_tokens_details: { cached_tokens: 4 },
        },
      };
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }) as typeof fetch;
    const client = createChatClient({
      apiKey: "az-key",
      baseURL: "https://res.openai.azure.com",
      azure: { deployment: "mini-prod", apiVersion: "2024-10-21" },
      fetch: fetchStub,
    });
    const answer = await client.complete({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
      requestId: "r1",
      timeoutMs: 5000,
    });
    expect(seen[0]?.url).toBe(
      "https://res.openai.azure.com/openai/deployments/mini-prod/chat/completions?api-version=2024-10-21",
    );
    expect(seen[0]?.headers.get("api-key")).toBe("az-key");
    expect(answer.cachedPromptTokens).toBe(4);
  });
});
