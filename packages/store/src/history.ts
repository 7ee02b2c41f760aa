import type { ChatMessage } from "@chatq/contracts";

/**
 * The last `$2` turns (all when null: LIMIT NULL means no limit), oldest first. The inner scan walks the
 * (conversation_id, id) index backwards, so a limit reads only the rows it returns.
 */
export const LOAD_HISTORY_SQL = `
select request_id, role, content from (
  select id, request_id, role, content from conversation_messages
  where conversation_id = $1
  order by id desc
  limit $2
) last_turns
order by id`;

export function historyLimit(limit: number | undefined): number | null {
  if (limit === undefined) return null;
  if (!Number.isInteger(limit) || limit < 0)
    throw new RangeError(`history limit must be a whole number ≥ 0, got ${limit}`);
  return limit;
}

export type HistoryRow = ChatMessage;
