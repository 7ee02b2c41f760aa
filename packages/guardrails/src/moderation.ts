import type { ModerationCategory, Policy } from "./policy.ts";

/** What POST /v1/moderations answers for one input (OpenAI's shape; chatq reads the scores). */
export interface ModerationResult {
  flagged: boolean;
  categories: Record<string, boolean>;
  category_scores: Record<string, number>;
}

/** A moderation call's end: a result, or the API unavailable to a fail_open tenant (its outage is not waited for). */
export type ModerationOutcome = { ok: true; result: ModerationResult } | { ok: false; reason: string };

export type Moderate = (text: string, model: string) => Promise<ModerationOutcome>;

export interface ModerationDecision {
  action: "pass" | "flag" | "block";
  /** The categories at or over their threshold, sorted. */
  categories: string[];
}

/** The tenant's thresholds over the scores: any blocking category blocks, else any flagging one flags. */
export function decideModeration(result: ModerationResult, policy: Policy["moderation"]): ModerationDecision {
  const blocked: string[] = [];
  const flagged: string[] = [];
  for (const [category, score] of Object.entries(result.category_scores)) {
    const rule = policy.categories[category as ModerationCategory] ?? policy.default;
    if (score < rule.threshold) continue;
    (rule.action === "block" ? blocked : flagged).push(category);
  }
  if (blocked.length > 0) return { action: "block", categories: [...blocked, ...flagged].sort() };
  if (flagged.length > 0) return { action: "flag", categories: flagged.sort() };
  return { action: "pass", categories: [] };
}
