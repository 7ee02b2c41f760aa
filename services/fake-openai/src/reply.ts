import type { ChatCall } from "./chat-request.ts";
import { hashString, seededRandom } from "./prng.ts";
import { decodeTokens, encodeText } from "./prompt-tokens.ts";

export type FinishReason = "stop" | "length";

export interface ChoiceText {
  content: string;
  finishReason: FinishReason;
  completionTokens: number;
}

/** How many characters of the last user message the reply quotes. */
export const ECHO_CHARS = 80;

// Common words that are one token each in both o200k_base and cl100k_base, so `replyTokens` filler words cost
// about `replyTokens` completion tokens.
// biome-ignore format: a word list reads better packed than one per line
const FILLER_WORDS = [
  "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "river", "stone", "light", "cloud", "paper",
  "garden", "window", "music", "table", "green", "blue", "red", "small", "large", "early", "late", "north",
  "south", "east", "west", "water", "fire", "earth", "wind", "bird", "tree", "house", "road", "city", "field",
  "night", "day", "summer", "winter", "story", "answer", "question", "simple", "clear", "bright", "quiet", "fast",
  "slow", "warm", "cold", "open", "close", "near", "far", "new", "old", "good", "true", "kind", "calm",
] as const;

/**
 * The text of one choice. Deterministic: the same model, messages, seed and choice index always give the same
 * words, so a retried request gets the same answer. Shape: `Echo (turn N): <first 80 chars of the last user
 * message>` then `replyTokens` filler words; with json_object, the same facts as a JSON object.
 */
export function composeChoice(call: ChatCall, choiceIndex: number, replyTokens: number): ChoiceText {
  if (asksForSummary(call)) return limitChoice(call, summariseExtractively(call.lastUserContent));
  const echo = Array.from(call.lastUserContent.replace(/\s+/g, " ").trim()).slice(0, ECHO_CHARS).join("");
  const random = seededRandom(
    hashString(`${call.model.id}\u0000${call.seed ?? ""}\u0000${choiceIndex}`, fingerprintMessages(call)),
  );
  const words: string[] = [];
  for (let i = 0; i < replyTokens; i++) {
    words.push(FILLER_WORDS[Math.floor(random() * FILLER_WORDS.length)] ?? "the");
  }
  const filler = words.length > 0 ? `${capitalize(words.join(" "))}.` : "";
  const full = call.jsonObject
    ? JSON.stringify({ echo, turn: call.userTurns, reply: filler })
    : `Echo (turn ${call.userTurns}): ${echo}${filler ? `\n${filler}` : ""}`;
  return limitChoice(call, full);
}

/** A request whose system message starts "Summarise"/"Summarize" gets a summary instead of an echo. */
function asksForSummary(call: ChatCall): boolean {
  const first = call.messages[0];
  return first?.role === "system" && /^summari[sz]e/i.test(first.content.trimStart());
}

/**
 * The fake's deterministic "summary": the first sentence of every line of the last user message, leaving out
 * headings (lines ending in ":") and assistant lines. A summary of an earlier summary keeps its sentences whole,
 * so facts survive repeated (incremental) summarising until max_tokens cuts the tail.
 */
export function summariseExtractively(text: string): string {
  const kept: string[] = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.endsWith(":") || /^assistant:/i.test(trimmed)) continue;
    const body = trimmed.replace(/^user:\s*/i, "");
    kept.push(/^[^.!?]*[.!?]?/.exec(body)?.[0]?.trim() ?? body);
  }
  return kept.filter((s) => s !== "").join("\n");
}

/** Cut at the first stop sequence, then at the token budget: whichever the "generation" reaches first wins. */
function limitChoice(call: ChatCall, full: string): ChoiceText {
  let content = full;
  const finishReason: FinishReason = "stop";
  let cut = -1;
  for (const stop of call.stop) {
    const at = content.indexOf(stop);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  if (cut >= 0) content = content.slice(0, cut);

  const tokens = encodeText(call.model.encoding, content);
  const budget = Math.min(
    call.maxTokens ?? Number.POSITIVE_INFINITY,
    call.model.contextWindow - call.promptTokens,
  );
  if (tokens.length > budget) {
    const kept = tokens.slice(0, Math.max(0, budget));
    return {
      content: decodeTokens(call.model.encoding, kept),
      finishReason: "length",
      completionTokens: kept.length,
    };
  }
  return { content, finishReason, completionTokens: tokens.length };
}

function fingerprintMessages(call: ChatCall): number {
  let hash = 0x811c9dc5;
  for (const message of call.messages) {
    hash = hashString(message.role, hash);
    hash = hashString("\u0000", hash);
    hash = hashString(message.content, hash);
    hash = hashString("\u0001", hash);
  }
  return hash;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export interface ChatCompletionBody {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: "assistant"; content: string; refusal: null; annotations: [] };
    logprobs: null;
    finish_reason: FinishReason;
  }>;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
    completion_tokens_details: {
      reasoning_tokens: number;
      audio_tokens: number;
      accepted_prediction_tokens: number;
      rejected_prediction_tokens: number;
    };
  };
  service_tier: "default";
  system_fingerprint: string;
}

/** The full response body, in the shape the real API returns for a non-streaming completion. */
export function buildCompletion(
  call: ChatCall,
  replyTokens: number,
  ids: { id: string; createdSeconds: number },
): ChatCompletionBody {
  const choices: ChatCompletionBody["choices"] = [];
  let completionTokens = 0;
  for (let index = 0; index < call.n; index++) {
    const choice = composeChoice(call, index, replyTokens);
    completionTokens += choice.completionTokens;
    choices.push({
      index,
      message: { role: "assistant", content: choice.content, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: choice.finishReason,
    });
  }
  return {
    id: ids.id,
    object: "chat.completion",
    created: ids.createdSeconds,
    // Like the real API: an alias is answered with the dated snapshot that served it; a snapshot is echoed.
    model: call.model.snapshot,
    choices,
    usage: {
      prompt_tokens: call.promptTokens,
      completion_tokens: completionTokens,
      total_tokens: call.promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: "default",
    system_fingerprint: systemFingerprint(call.model.snapshot),
  };
}

const FINGERPRINTS = new Map<string, string>();

/** A stable `fp_…` per model snapshot, like the real API's backend-configuration fingerprint. */
export function systemFingerprint(snapshot: string): string {
  let fingerprint = FINGERPRINTS.get(snapshot);
  if (!fingerprint) {
    fingerprint = `fp_${hashString(snapshot).toString(16).padStart(8, "0")}${(hashString(snapshot, 7) & 0xff).toString(16).padStart(2, "0")}`;
    FINGERPRINTS.set(snapshot, fingerprint);
  }
  return fingerprint;
}
