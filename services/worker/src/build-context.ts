import type { ChatMessage, HistoryMode } from "@chatq/contracts";
import { contextMessage, type SearchHit } from "@chatq/retrieval";
import { fitContext } from "./fit-context.ts";

export interface ContextParts {
  /** The conversation's stored summary: it stands in for the turns it covers. */
  summary: string | undefined;
  /** Stored turns after what the summary covers, oldest first. */
  history: readonly (ChatMessage & { id: number })[];
  /** The request's own messages: never dropped. */
  fresh: readonly ChatMessage[];
  /** Retrieved chunks, best first. */
  retrieved: readonly SearchHit[];
}

export interface ContextBudget {
  /** What the prompt may hold: the context window less the answer budget and the reply priming. */
  totalTokens: number;
  /** The share of the window given to history (summary and turns). */
  historyTokens: number;
}

export interface BuiltContext {
  messages: ChatMessage[];
  /** Tokens of the messages (without the reply priming). */
  promptTokens: number;
  history: HistoryMode;
  /**
   * When turns were dropped: the turn the next summary should cover through. Past the dropped turns by a quarter of
   * the history room, so the next request's turns fit beside the summary and nothing falls between the two.
   */
  summariseThroughId: number | undefined;
  /** The chunks that were sent (those that fitted), best first. */
  sources: SearchHit[];
}

export const SUMMARY_PREFIX = "Summary of the earlier conversation:\n";

/**
 * The prompt: the conversation's instructions (its system turns, once each), the summary, the newest turns that
 * fit the history share, retrieved context, then the request's own messages. Retrieval is what the request asked
 * for, so it is fitted before old turns (lowest-scoring chunks dropped first); history then gets what is left of its
 * share. Pure: the caller counts tokens.
 */
export function buildContext(
  parts: ContextParts,
  budget: ContextBudget,
  count: (m: ChatMessage) => number,
): BuiltContext {
  const seen = new Set<string>();
  const pinned: ChatMessage[] = [];
  const turns: (ChatMessage & { id: number })[] = [];
  for (const t of parts.history) {
    if (t.role !== "system") turns.push(t);
    else if (!seen.has(t.content)) {
      // A producer that sends its system prompt with every turn would otherwise repeat it once per turn.
      seen.add(t.content);
      pinned.push({ role: "system", content: t.content });
    }
  }
  const summary: ChatMessage | undefined =
    parts.summary === undefined
      ? undefined
      : { role: "system", content: `${SUMMARY_PREFIX}${parts.summary}` };
  const sum = (ms: readonly ChatMessage[]) => ms.reduce((n, m) => n + count(m), 0);
  const fixed = sum(parts.fresh) + sum(pinned) + (summary ? count(summary) : 0);

  let sources = [...parts.retrieved];
  let retrieval: ChatMessage | undefined;
  while (sources.length > 0) {
    retrieval = contextMessage(sources);
    if (fixed + count(retrieval) <= budget.totalTokens) break;
    sources = sources.slice(0, -1);
    retrieval = undefined;
  }
  const retrievalTokens = retrieval ? count(retrieval) : 0;

  const historyRoom = Math.max(
    0,
    Math.min(
      budget.historyTokens - (summary ? count(summary) : 0),
      budget.totalTokens - fixed - retrievalTokens,
    ),
  );
  const fit = fitContext(turns, [], historyRoom, count);
  const kept = fit.messages.map(({ role, content }) => ({ role, content }));
  const messages = [
    ...pinned,
    ...(summary ? [summary] : []),
    ...kept,
    ...(retrieval ? [retrieval] : []),
    ...parts.fresh,
  ];
  return {
    messages,
    promptTokens: fixed + retrievalTokens + fit.promptTokens,
    history: fit.droppedTurns > 0 ? "trimmed" : summary ? "summarised" : "full",
    summariseThroughId:
      fit.droppedTurns > 0 ? summariseThrough(turns, fit.droppedTurns, historyRoom / 4, count) : undefined,
    sources,
  };
}

/** The last dropped turn, or further: the oldest kept turns up to `marginTokens`. */
function summariseThrough(
  turns: readonly (ChatMessage & { id: number })[],
  dropped: number,
  marginTokens: number,
  count: (m: ChatMessage) => number,
): number | undefined {
  let last = dropped - 1;
  let margin = 0;
  while (last + 1 < turns.length - 1 && margin + count(turns[last + 1] as ChatMessage) <= marginTokens) {
    margin += count(turns[last + 1] as ChatMessage);
    last++;
  }
  return turns[last]?.id;
}
