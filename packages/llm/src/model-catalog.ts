import { costOf, defaultPriceTable } from "./price-table.ts";

/** What chatq needs to know about a model: how to count its tokens and how much fits (prices: prices/prices.json). */
export interface ModelInfo {
  encoding: "o200k_base" | "cl100k_base";
  contextWindow: number;
  maxOutputTokens: number;
  /** What the API reserves against TPM when a request sets no max_tokens. */
  defaultOutputBudget: number;
  /**
   * Reasoning models (o-series, gpt-5) refuse `max_tokens` and take `max_completion_tokens`, which also covers
   * their hidden reasoning tokens.
   */
  reasoning: boolean;
}

const o200k = (contextWindow: number, maxOutputTokens: number, reasoning = false): ModelInfo => ({
  encoding: "o200k_base",
  contextWindow,
  maxOutputTokens,
  defaultOutputBudget: 1024,
  reasoning,
});

/** An embedding model: its input is counted like cl100k text; it answers no text. Prices: prices/prices.json. */
function embedding(): ModelInfo {
  return {
    encoding: "cl100k_base",
    contextWindow: 8_191,
    maxOutputTokens: 0,
    defaultOutputBudget: 0,
    reasoning: false,
  };
}

const CATALOG: Record<string, ModelInfo> = {
  "gpt-4o-mini": o200k(128_000, 16_384),
  "gpt-4o": o200k(128_000, 16_384),
  "gpt-4.1": o200k(1_047_576, 32_768),
  "gpt-4.1-mini": o200k(1_047_576, 32_768),
  "gpt-4.1-nano": o200k(1_047_576, 32_768),
  "o4-mini": o200k(200_000, 100_000, true),
  o3: o200k(200_000, 100_000, true),
  "o3-mini": o200k(200_000, 100_000, true),
  "gpt-5": o200k(400_000, 128_000, true),
  "gpt-5-mini": o200k(400_000, 128_000, true),
  "gpt-5-nano": o200k(400_000, 128_000, true),
  "gpt-4": {
    encoding: "cl100k_base",
    contextWindow: 8_192,
    maxOutputTokens: 8_192,
    defaultOutputBudget: 1024,
    reasoning: false,
  },
  "gpt-3.5-turbo": {
    encoding: "cl100k_base",
    contextWindow: 16_385,
    maxOutputTokens: 4_096,
    defaultOutputBudget: 1024,
    reasoning: false,
  },
};

// Embedding models: priced per input token; they answer no text, so no output budget. Apart from CATALOG so that
// knownModels() (the chat models a request may name) does not offer them.
const EMBEDDING_CATALOG: Record<string, ModelInfo> = {
  "text-embedding-3-small": embedding(),
  "text-embedding-3-large": embedding(),
  "text-embedding-ada-002": embedding(),
};

/** Unknown models (a new snapshot, another provider behind OPENAI_BASE_URL) get the newest family's defaults. */
const FALLBACK: ModelInfo = o200k(128_000, 16_384);
/** Names of reasoning families chatq has no entry for yet (o1, o5-pro, gpt-6…): the same parameter rules apply. */
const REASONING_NAME = /^(o\d+|gpt-[5-9])(\b|-)/;

export function modelInfo(model: string): ModelInfo {
  const exact = CATALOG[model] ?? EMBEDDING_CATALOG[model];
  if (exact) return exact;
  // Dated snapshots ("gpt-4o-mini-2024-07-18") share their family's figures: longest known prefix wins.
  const family = Object.keys(CATALOG)
    .filter((name) => model.startsWith(`${name}-`))
    .sort((a, b) => b.length - a.length)[0];
  if (family) return CATALOG[family] as ModelInfo;
  return REASONING_NAME.test(model) ? { ...FALLBACK, reasoning: true } : FALLBACK;
}

/** The parameter that limits a model's answer: reasoning models refuse `max_tokens`. */
export function outputLimitParam(model: string): "max_tokens" | "max_completion_tokens" {
  return modelInfo(model).reasoning ? "max_completion_tokens" : "max_tokens";
}

export function knownModels(): string[] {
  return Object.keys(CATALOG);
}

/** USD at the shipped prices; 0 for a model without one (the worker stores null instead: see costOf). */
export function costUsd(model: string, usage: { prompt_tokens: number; completion_tokens: number }): number {
  return costOf(defaultPriceTable(), model, usage) ?? 0;
}

/** What a request reserves for its answer: its limit under either name, else the model's default output budget. */
export function outputBudget(
  model: string,
  params: { max_tokens?: number | undefined; max_completion_tokens?: number | undefined } = {},
): number {
  return params.max_completion_tokens ?? params.max_tokens ?? modelInfo(model).defaultOutputBudget;
}
