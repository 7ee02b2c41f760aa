import { createRequire } from "node:module";
import { type ModelInfo, modelInfo } from "./model-catalog.ts";

export interface PromptMessage {
  role: string;
  content: string;
}

// The chat format wraps every message in a few tokens of its own and primes the reply with three more.
const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMING = 3;

// User text may contain "<|endoftext|>" and the like; the API counts it as plain text, and so must we (the
// tokenizer's default is to throw on it).
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

type CountTokens = (text: string, options: typeof PLAIN_TEXT) => number;

// Each encoding's ranks cost tens of MB once loaded (o200k_base ~62 MB RSS, cl100k_base ~35 MB): load only the
// families of the models this process actually counts for, on first use. require() because counting is
// synchronous on the hot path; the module cache makes every later call a map lookup.
const require = createRequire(import.meta.url);
const ENCODING_MODULES: Record<ModelInfo["encoding"], string> = {
  o200k_base: "gpt-tokenizer/encoding/o200k_base",
  cl100k_base: "gpt-tokenizer/encoding/cl100k_base",
};
const loaded = new Map<ModelInfo["encoding"], CountTokens>();

function counterFor(encoding: ModelInfo["encoding"]): CountTokens {
  let count = loaded.get(encoding);
  if (count === undefined) {
    count = (require(ENCODING_MODULES[encoding]) as { countTokens: CountTokens }).countTokens;
    loaded.set(encoding, count);
  }
  return count;
}

/** The tokenizer encodings loaded so far (a worker serving only gpt-4o-mini has o200k_base alone). */
export function loadedEncodings(): ModelInfo["encoding"][] {
  return [...loaded.keys()];
}

export function countTextTokens(model: string, text: string): number {
  return counterFor(modelInfo(model).encoding)(text, PLAIN_TEXT);
}

/** One message's share of the prompt, wrapping included. */
export function countMessageTokens(model: string, message: PromptMessage): number {
  return TOKENS_PER_MESSAGE + countTextTokens(model, message.role) + countTextTokens(model, message.content);
}

/** Prompt tokens as the API will count them: every message, plus the reply's priming. */
export function countPromptTokens(model: string, messages: readonly PromptMessage[]): number {
  let total = REPLY_PRIMING;
  for (const m of messages) total += countMessageTokens(model, m);
  return total;
}

export const PROMPT_OVERHEAD_TOKENS = REPLY_PRIMING;

/**
 * What a request will weigh against the tokens-per-minute budget when it is sent: its prompt plus the most it may
 * answer (max_tokens, or the model's default output budget). This is how OpenAI charges TPM at send time.
 */
export function estimateRequestTokens(
  model: string,
  messages: readonly PromptMessage[],
  maxTokens: number | undefined,
): { promptTokens: number; reservedTokens: number } {
  const promptTokens = countPromptTokens(model, messages);
  return { promptTokens, reservedTokens: promptTokens + (maxTokens ?? modelInfo(model).defaultOutputBudget) };
}
