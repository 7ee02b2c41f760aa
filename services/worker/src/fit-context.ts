import type { ChatMessage } from "@chatq/contracts";

/**
 * The messages to send: the conversation's stored history, then the request's own messages. When that does not
 * fit the model's context window (less the room kept for the answer), the oldest history turns are dropped first;
 * the request's own messages are never dropped. (Summarising what is dropped is a later step.)
 * Each message is counted once, so this stays linear however long the history.
 */
export function fitContext(
  history: readonly ChatMessage[],
  fresh: readonly ChatMessage[],
  budgetTokens: number,
  countMessage: (message: ChatMessage) => number,
): { messages: ChatMessage[]; droppedTurns: number; promptTokens: number } {
  const historyCosts = history.map(countMessage);
  let total = fresh.reduce((n, m) => n + countMessage(m), 0) + historyCosts.reduce((n, c) => n + c, 0);
  let start = 0;
  while (start < history.length && total > budgetTokens) {
    total -= historyCosts[start] as number;
    start++;
  }
  return { messages: [...history.slice(start), ...fresh], droppedTurns: start, promptTokens: total };
}
