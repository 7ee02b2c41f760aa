/** The models the fake knows, with the figures OpenAI publishes for them. */
export type TokenizerEncoding = "o200k_base" | "cl100k_base";

export interface FakeModel {
  id: string;
  /** What OpenAI answers in `model` when asked for the alias. */
  snapshot: string;
  contextWindow: number;
  maxOutputTokens: number;
  encoding: TokenizerEncoding;
  /**
   * Reasoning models (o-series, gpt-5) reject `max_tokens` and any temperature but 1, as the real API does;
   * clients must send `max_completion_tokens` instead.
   */
  reasoning: boolean;
  /** Unix seconds, for GET /v1/models. */
  created: number;
}

const model = (
  id: string,
  snapshot: string,
  contextWindow: number,
  maxOutputTokens: number,
  encoding: TokenizerEncoding,
  reasoning: boolean,
  created: number,
): FakeModel => ({ id, snapshot, contextWindow, maxOutputTokens, encoding, reasoning, created });

export const KNOWN_MODELS: readonly FakeModel[] = [
  model("gpt-4o-mini", "gpt-4o-mini-2024-07-18", 128_000, 16_384, "o200k_base", false, 1721172741),
  model("gpt-4o", "gpt-4o-2024-08-06", 128_000, 16_384, "o200k_base", false, 1715367049),
  model("gpt-4.1", "gpt-4.1-2025-04-14", 1_047_576, 32_768, "o200k_base", false, 1744316542),
  model("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", 1_047_576, 32_768, "o200k_base", false, 1744318173),
  model("gpt-4.1-nano", "gpt-4.1-nano-2025-04-14", 1_047_576, 32_768, "o200k_base", false, 1744321707),
  model("o4-mini", "o4-mini-2025-04-16", 200_000, 100_000, "o200k_base", true, 1744225351),
  model("gpt-5", "gpt-5-2025-08-07", 400_000, 128_000, "o200k_base", true, 1754425777),
  model("gpt-5-mini", "gpt-5-mini-2025-08-07", 400_000, 128_000, "o200k_base", true, 1754425928),
  model("gpt-3.5-turbo", "gpt-3.5-turbo-0125", 16_385, 4_096, "cl100k_base", false, 1677610602),
  model("gpt-4", "gpt-4-0613", 8_192, 8_192, "cl100k_base", false, 1687882411),
];

// Both the alias and its dated snapshot are accepted, as on the real API; both share the alias's rate limits.
const BY_NAME = new Map<string, FakeModel>();
for (const m of KNOWN_MODELS) {
  BY_NAME.set(m.id, m);
  BY_NAME.set(m.snapshot, m);
}

export function findModel(name: string): FakeModel | undefined {
  return BY_NAME.get(name);
}
