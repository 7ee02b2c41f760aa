/** What chatq needs to know about a model: how to count its tokens, how much fits, what it costs. */
export interface ModelInfo {
  encoding: "o200k_base" | "cl100k_base";
  contextWindow: number;
  maxOutputTokens: number;
  /** What the API reserves against TPM when a request sets no max_tokens. */
  defaultOutputBudget: number;
  /** USD per million tokens. */
  pricePerMTokens: { input: number; output: number };
  /**
   * Reasoning models (o-series, gpt-5) refuse `max_tokens` and take `max_completion_tokens`, which also covers
   * their hidden reasoning tokens.
   */
  reasoning: boolean;
}

const o200k = (
  contextWindow: number,
  maxOutputTokens: number,
  input: number,
  output: number,
  reasoning = false,
): ModelInfo => ({
  encoding: "o200k_base",
  contextWindow,
  maxOutputTokens,
  defaultOutputBudget: 1024,
  pricePerMTokens: { input, output },
  reasoning,
});

function embedding(input: number): ModelInfo {
  return {
    encoding: "cl100k_base",
    contextWindow: 8_191,
    maxOutputTokens: 0,
    defaultOutputBudget: 0,
    pricePerMTokens: { input, output: 0 },
    reasoning: false,
  };
}

// List prices (USD / 1M tokens) as published by OpenAI; override per deployment through config when they change.
const CATALOG: Record<string, ModelInfo> = {
  "gpt-4o-mini": o200k(128_000, 16_384, 0.15, 0.6),
  "gpt-4o": o200k(128_000, 16_384, 2.5, 10),
  "gpt-4.1": o200k(1_047_576, 32_768, 2, 8),
  "gpt-4.1-mini": o200k(1_047_576, 32_768, 0.4, 1.6),
  "gpt-4.1-nano": o200k(1_047_576, 32_768, 0.1, 0.4),
  "o4-mini": o200k(200_000, 100_000, 1.1, 4.4, true),
  o3: o200k(200_000, 100_000, 2, 8, true),
  "o3-mini": o200k(200_000, 100_000, 1.1, 4.4, true),
  "gpt-5": o200k(400_000, 128_000, 1.25, 10, true),
  "gpt-5-mini": o200k(400_000, 128_000, 0.25, 2, true),
  "gpt-5-nano": o200k(400_000, 128_000, 0.05, 0.4, true),
  "gpt-4": {
    encoding: "cl100k_base",
    contextWindow: 8_192,
    maxOutputTokens: 8_192,
    defaultOutputBudget: 1024,
    pricePerMTokens: { input: 30, output: 60 },
    reasoning: false,
  },
  "gpt-3.5-turbo": {
    encoding: "cl100k_base",
    contextWindow: 16_385,
    maxOutputTokens: 4_096,
    defaultOutputBudget: 1024,
    pricePerMTokens: { input: 0.5, output: 1.5 },
    reasoning: false,
  },
};

// Embedding models: priced per input token; they answer no text, so no output budget. Apart from CATALOG so that
// knownModels() (the chat models a request may name) does not offer them.
const EMBEDDING_CATALOG: Record<string, ModelInfo> = {
  "text-embedding-3-small": embedding(0.02),
  "text-embedding-3-large": embedding(0.13),
  "text-embedding-ada-002": embedding(0.1),
};

/** Unknown models (a new snapshot, another provider behind OPENAI_BASE_URL) get the newest family's defaults. */
const FALLBACK: ModelInfo = o200k(128_000, 16_384, 0, 0);
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

export function costUsd(model: string, usage: { prompt_tokens: number; completion_tokens: number }): number {
  const { input, output } = modelInfo(model).pricePerMTokens;
  return (usage.prompt_tokens * input + usage.completion_tokens * output) / 1_000_000;
}

/** What a request reserves for its answer: its limit under either name, else the model's default output budget. */
export function outputBudget(
  model: string,
  params: { max_tokens?: number | undefined; max_completion_tokens?: number | undefined } = {},
): number {
  return params.max_completion_tokens ?? params.max_tokens ?? modelInfo(model).defaultOutputBudget;
}
