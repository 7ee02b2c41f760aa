import { z } from "zod";
import { modelNotFound, parseBody } from "./openai-errors.ts";
import { countTextTokens } from "./prompt-tokens.ts";

/** The moderation models the fake serves (the latest aliases and their snapshots). */
export const MODERATION_MODELS: ReadonlySet<string> = new Set([
  "omni-moderation-latest",
  "omni-moderation-2024-09-26",
  "text-moderation-latest",
  "text-moderation-stable",
]);

/** Every category OpenAI's omni-moderation answers, in its order. */
// biome-ignore format: a category list reads better packed
export const MODERATION_CATEGORIES = [
  "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent", "self-harm",
  "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence", "violence/graphic",
] as const;
type Category = (typeof MODERATION_CATEGORIES)[number];

/**
 * The fake's deterministic triggers (documented in the README): a word scores its categories 0.9; a marker
 * `[[mod:violence=0.42]]` sets one category's score exactly (for threshold tests). Everything else scores 0.0001.
 */
export const TRIGGER_WORDS: Readonly<Record<string, readonly Category[]>> = {
  kill: ["violence"],
  gore: ["violence", "violence/graphic"],
  idiot: ["harassment"],
  threaten: ["harassment", "harassment/threatening"],
  vermin: ["hate"],
  bomb: ["illicit", "illicit/violent", "violence"],
  selfharm: ["self-harm", "self-harm/intent"],
  explicit: ["sexual"],
};
const BASELINE = 0.0001;
const FLAGGED_AT = 0.5;
const MARKER = /\[\[mod:([a-z/-]+)=(0(?:\.\d+)?|1(?:\.0+)?)\]\]/g;

const ModerationsBodySchema = z.strictObject({
  model: z.string().optional(),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
});

export interface ModerationsCall {
  model: string;
  inputs: string[];
  promptTokens: number;
}

/** Validates a moderations body as the real API does, or throws the ApiErrorReply it would answer. */
export function validateModerationsRequest(raw: unknown): ModerationsCall {
  const body = parseBody(ModerationsBodySchema, raw);
  const model = body.model ?? "omni-moderation-latest";
  if (!MODERATION_MODELS.has(model)) throw modelNotFound(model);
  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  const promptTokens = inputs.reduce((n, i) => n + countTextTokens("o200k_base", i), 0);
  return { model, inputs, promptTokens };
}

export function moderationScores(text: string): Record<Category, number> {
  const scores = Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, BASELINE])) as Record<
    Category,
    number
  >;
  const words = new Set(text.toLowerCase().match(/[a-z-]+/g) ?? []);
  for (const [word, categories] of Object.entries(TRIGGER_WORDS)) {
    if (!words.has(word)) continue;
    for (const c of categories) scores[c] = Math.max(scores[c], 0.9);
  }
  for (const m of text.matchAll(MARKER)) {
    const category = m[1] as Category;
    if (category in scores) scores[category] = Number(m[2]);
  }
  return scores;
}

/** The response body of POST /v1/moderations, in OpenAI's shape (category_applied_input_types included). */
export function buildModerations(call: ModerationsCall, id: string) {
  return {
    id,
    model: call.model,
    results: call.inputs.map((input) => {
      const scores = moderationScores(input);
      const categories = Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, scores[c] >= FLAGGED_AT]));
      return {
        flagged: Object.values(categories).some(Boolean),
        categories,
        category_scores: scores,
        category_applied_input_types: Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, ["text"]])),
      };
    }),
  };
}
