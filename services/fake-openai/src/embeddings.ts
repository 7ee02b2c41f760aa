import { z } from "zod";
import { invalidRequest, modelNotFound, parseBody } from "./openai-errors.ts";
import { hashString } from "./prng.ts";
import { countTextTokens } from "./prompt-tokens.ts";

/** The embedding models the fake serves, with their native dimensions (`dimensions` may ask for fewer). */
export const EMBEDDING_MODELS: Readonly<Record<string, number>> = {
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "text-embedding-ada-002": 1536,
};

/** Inputs per call and tokens per input, as the real API limits them. */
const MAX_INPUTS = 2048;
const MAX_INPUT_TOKENS = 8192;
/** Each word lands on this many signed dimensions: fewer collisions than one, still sparse. */
const SLOTS_PER_WORD = 4;

// Words that say nothing about a text's topic; without them, every English text looks alike.
// biome-ignore format: a word list reads better packed than one per line
const STOP_WORDS = new Set([
  "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "by", "from", "is", "are",
  "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "as", "if", "then", "so", "do",
  "does", "did", "what", "which", "who", "how", "when", "where", "why", "can", "could", "should", "would", "will",
  "i", "you", "we", "they", "he", "she", "my", "your", "our", "their", "me", "us", "them", "not", "no", "yes",
]);

const EmbeddingsBodySchema = z.strictObject({
  model: z.string(),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
  dimensions: z.int().min(1).optional(),
  encoding_format: z.enum(["float", "base64"]).optional(),
  user: z.unknown().optional(),
});

export interface EmbeddingsCall {
  model: string;
  inputs: string[];
  dimensions: number;
  base64: boolean;
  promptTokens: number;
}

/** Validates an embeddings body the way the real API does, or throws the ApiErrorReply it would answer. */
export function validateEmbeddingsRequest(raw: unknown): EmbeddingsCall {
  const body = parseBody(EmbeddingsBodySchema, raw);
  const native = EMBEDDING_MODELS[body.model];
  if (native === undefined) throw modelNotFound(body.model);
  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  if (inputs.length > MAX_INPUTS) {
    throw invalidRequest(`'input' must have at most ${MAX_INPUTS} items.`, "input", "array_above_max_length");
  }
  const dimensions = body.dimensions ?? native;
  if (dimensions > native || (body.dimensions !== undefined && body.model === "text-embedding-ada-002")) {
    throw invalidRequest(
      `This model does not support ${dimensions} dimensions.`,
      "dimensions",
      "invalid_value",
    );
  }
  let promptTokens = 0;
  for (const input of inputs) {
    if (input === "")
      throw invalidRequest("'$.input' is invalid: an input must not be empty.", "input", null);
    const tokens = countTextTokens("cl100k_base", input);
    if (tokens > MAX_INPUT_TOKENS) {
      throw invalidRequest(
        `This model's maximum context length is ${MAX_INPUT_TOKENS} tokens, however you requested ${tokens} tokens in one input.`,
        "input",
        "context_length_exceeded",
      );
    }
    promptTokens += tokens;
  }
  return { model: body.model, inputs, dimensions, base64: body.encoding_format === "base64", promptTokens };
}

/** Lower-case words of two or more letters or digits, stop words left out, a plural "s" dropped. */
export function topicWords(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? []) {
    if (STOP_WORDS.has(raw)) continue;
    out.push(raw.length > 3 && raw.endsWith("s") && !raw.endsWith("ss") ? raw.slice(0, -1) : raw);
  }
  return out;
}

/**
 * A deterministic stand-in for a learned embedding: a hashed bag of words (each word adds ±1 to a few dimensions
 * chosen by hashing it), normalised to length 1. Texts sharing words get a high cosine similarity, texts sharing
 * none about 0 — enough to test retrieval for relevance, not only plumbing.
 */
export function embedText(text: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (const word of topicWords(text)) {
    for (let slot = 0; slot < SLOTS_PER_WORD; slot++) {
      const at = hashString(word, 0x9e3779b9 + slot) % dimensions;
      const sign = hashString(word, 0x85ebca6b + slot) & 1 ? 1 : -1;
      vector[at] = (vector[at] ?? 0) + sign;
    }
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  if (norm === 0) {
    // A text of stop words only still gets a unit vector (the real API never answers a zero vector).
    vector[hashString(text) % dimensions] = 1;
    return vector;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] ?? 0) * scale;
  return vector;
}

/** The response body of POST /v1/embeddings; base64 is little-endian float32, what the SDK asks for by default. */
export function buildEmbeddings(call: EmbeddingsCall) {
  return {
    object: "list" as const,
    data: call.inputs.map((input, index) => {
      const vector = embedText(input, call.dimensions);
      return {
        object: "embedding" as const,
        index,
        embedding: call.base64
          ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64")
          : Array.from(vector),
      };
    }),
    model: call.model,
    usage: { prompt_tokens: call.promptTokens, total_tokens: call.promptTokens },
  };
}
