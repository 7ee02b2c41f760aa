import {
  countTokens as countCl100k,
  decode as decodeCl100k,
  encode as encodeCl100k,
} from "gpt-tokenizer/encoding/cl100k_base";
import {
  countTokens as countO200k,
  decode as decodeO200k,
  encode as encodeO200k,
} from "gpt-tokenizer/encoding/o200k_base";
import type { TokenizerEncoding } from "./models.ts";

// User text may contain "<|endoftext|>" and the like; the API counts it as plain text (the tokenizer's default is
// to throw on it).
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

// OpenAI's chat format (openai-cookbook "How to count tokens with tiktoken"): every message costs 3 tokens of
// framing plus its encoded values (role, content, name), a name costs 1 more, and the reply is primed with 3.
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING = 3;

export interface CountableMessage {
  role: string;
  content: string;
  name?: string | null | undefined;
}

export function countTextTokens(encoding: TokenizerEncoding, text: string): number {
  return encoding === "cl100k_base" ? countCl100k(text, PLAIN_TEXT) : countO200k(text, PLAIN_TEXT);
}

/** usage.prompt_tokens as the real API reports it. */
export function countPromptTokens(
  encoding: TokenizerEncoding,
  messages: readonly CountableMessage[],
): number {
  let total = REPLY_PRIMING;
  for (const message of messages) {
    total +=
      TOKENS_PER_MESSAGE +
      countTextTokens(encoding, message.role) +
      countTextTokens(encoding, message.content);
    if (message.name) total += TOKENS_PER_NAME + countTextTokens(encoding, message.name);
  }
  return total;
}

export function encodeText(encoding: TokenizerEncoding, text: string): number[] {
  return encoding === "cl100k_base" ? encodeCl100k(text, PLAIN_TEXT) : encodeO200k(text, PLAIN_TEXT);
}

export function decodeTokens(encoding: TokenizerEncoding, tokens: readonly number[]): string {
  return encoding === "cl100k_base" ? decodeCl100k(tokens) : decodeO200k(tokens);
}
