import { encodeChat } from "gpt-tokenizer/model/gpt-4o";
import { describe, expect, it } from "vitest";
import { countPromptTokens, estimateRequestTokens } from "./estimate-tokens.ts";
import { costUsd, modelInfo } from "./model-catalog.ts";

const mixed = [
  {
    role: "system" as const,
    content: "You are a helpful bilingual assistant. Answer in the user's language.",
  },
  {
    role: "user" as const,
    content: "¿Cuál es la diferencia entre un océano y un mar? Explícalo brevemente, por favor.",
  },
  {
    role: "assistant" as const,
    content:
      "Un océano es una gran masa de agua salada; un mar es más pequeño y suele estar rodeado de tierra.",
  },
  {
    role: "user" as const,
    content: "Thanks! Now the same in English, and add one example of each near Spain.",
  },
  {
    role: "user" as const,
    content: "Y al final, <|endoftext|> resume todo en una frase — con acentos: canción, niño, pingüino.",
  },
];

describe("estimateRequestTokens", () => {
  it("is within 10% of the tokenizer's chat count on mixed English/Spanish", () => {
    const reference = encodeChat(mixed, undefined, { disallowedSpecial: new Set() }).length;
    const estimate = countPromptTokens("gpt-4o", mixed);
    expect(Math.abs(estimate - reference) / reference).toBeLessThan(0.1);
  });

  it("reserves max_tokens, or the model's default output budget when unset", () => {
    const withMax = estimateRequestTokens("gpt-4o-mini", mixed, 50);
    expect(withMax.reservedTokens).toBe(withMax.promptTokens + 50);
    const without = estimateRequestTokens("gpt-4o-mini", mixed, undefined);
    expect(without.reservedTokens).toBe(without.promptTokens + modelInfo("gpt-4o-mini").defaultOutputBudget);
  });

  it("counts with the model family's encoding", () => {
    const text = [{ role: "user" as const, content: "naïve café — 東京 😀 ".repeat(20) }];
    expect(countPromptTokens("gpt-4", text)).not.toBe(countPromptTokens("gpt-4o", text));
  });
});

describe("modelInfo and cost", () => {
  it("dated snapshots share their family's figures", () => {
    expect(modelInfo("gpt-4o-mini-2024-07-18")).toBe(modelInfo("gpt-4o-mini"));
  });
  it("prices input and output tokens per million", () => {
    expect(costUsd("gpt-4o-mini", { prompt_tokens: 1_000_000, completion_tokens: 1_000_000 })).toBeCloseTo(
      0.75,
    );
  });
});
