import { describe, expect, it } from "vitest";
import { apiParams } from "./chat-client.ts";
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
