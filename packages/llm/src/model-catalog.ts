/** What chatq needs to know about a model: how to count its tokens, how much fits, what it costs. */
export interface ModelInfo {
  encoding: "o200k_base" | "cl100k_base";
  contextWindow: number;
  maxOutputTokens: number;
  /** What the API reserves against TPM when a request sets no max_tokens. */
  defaultOutputBudget: number;
  /** USD per million tokens. */
  pricePerMTokens: { input: number; output: number };
}

const o200k = (contextWindow: number, maxOutputTokens: number, input: number, output: number): ModelInfo => ({
  encoding: "o200k_base",
  contextWindow,
  maxOutputTokens,
  defaultOutputBudget: 1024,
  pricePerMTokens: { input, output },
});

// List prices (USD / 1M tokens) as published by OpenAI; override per deployment through config when they change.
const CATALOG: Record<string, ModelInfo> = {
  "gpt-4o-mini": o200k(128_000, 16_384, 0.15, 0.6),
  "gpt-4o": o200k(128_000, 16_384, 2.5, 10),
  "gpt-4.1": o200k(1_047_576, 32_768, 2, 8),
  "gpt-4.1-mini": o200k(1_047_576, 32_768, 0.4, 1.6),
  "gpt-4.1-nano": o200k(1_047_576, 32_768, 0.1, 0.4),
  "o4-mini": o200k(200_000, 100_000, 1.1, 4.4),
  "gpt-5": o200k(400_000, 128_000, 1.25, 10),
  "gpt-5-mini": o200k(400_000, 128_000, 0.25, 2),
  "gpt-4": {
    encoding: "cl100k_base",
    contextWindow: 8_192,
    maxOutputTokens: 8_192,
    defaultOutputBudget: 1024,
    pricePerMTokens: { input: 30, output: 60 },
  },
  "gpt-3.5-turbo": {
    encoding: "cl100k_base",
    contextWindow: 16_385,
    maxOutputTokens: 4_096,
    defaultOutputBudget: 1024,
    pricePerMTokens: { input: 0.5, output: 1.5 },
  },
};

/** Unknown models (a new snapshot, another provider behind OPENAI_BASE_URL) get the newest family's defaults. */
const FALLBACK: ModelInfo = o200k(128_000, 16_384, 0, 0);

export function modelInfo(model: string): ModelInfo {
  const exact = CATALOG[model];
  if (exact) return exact;
  // Dated snapshots ("gpt-4o-mini-2024-07-18") share their family's figures: longest known prefix wins.
  const family = Object.keys(CATALOG)
    .filter((name) => model.startsWith(`${name}-`))
    .sort((a, b) => b.length - a.length)[0];
  return family ? (CATALOG[family] as ModelInfo) : FALLBACK;
}

export function knownModels(): string[] {
  return Object.keys(CATALOG);
}

export function costUsd(model: string, usage: { prompt_tokens: number; completion_tokens: number }): number {
  const { input, output } = modelInfo(model).pricePerMTokens;
  return (usage.prompt_tokens * input + usage.completion_tokens * output) / 1_000_000;
}
