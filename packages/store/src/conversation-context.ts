/** One stored turn with its position: a summary records the last position it covers. */
export interface StoredTurn {
  id: number;
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ConversationSummary {
  text: string;
  /** The last conversation_messages.id the summary covers. */
  throughId: number;
  /** Turns covered, from the conversation's first. */
  turns: number;
}

/**
 * The conversation's summary (if any), its system turns from before what the summary covers (instructions are
 * kept, never summarised), and the newest `$2` turns after it, oldest first. One round trip: the summary row
 * left-joined to the turns (a conversation with no summary reads from its first turn).
 */
export const LOAD_CONTEXT_SQL = `
select c.summary, c.summary_through, c.summary_turns, t.id, t.request_id, t.role, t.content
from (select $1::text as conversation_id) k
left join conversations c on c.conversation_id = k.conversation_id
left join lateral (
  (select id, request_id, role, content from conversation_messages m
   where m.conversation_id = k.conversation_id and m.id <= coalesce(c.summary_through, 0) and m.role = 'system'
   order by id
   limit 20)
  union all
  (select id, request_id, role, content from conversation_messages m
   where m.conversation_id = k.conversation_id and m.id > coalesce(c.summary_through, 0)
   order by id desc
   limit $2)
) t on true
order by t.id`;

/** Turns in (after, through], oldest first: what a refreshed summary adds to the previous one. */
export const TURNS_BETWEEN_SQL = `
select id, request_id, role, content from conversation_messages
where conversation_id = $1 and id > $2 and id <= $3
order by id`;

/** Only ever moves forward: a slow summary finishing after a newer one must not replace it. */
export const SAVE_SUMMARY_SQL = `
update conversations
set summary = $2, summary_through = $3, summary_turns = $4, summary_model = $5, summary_updated_at = now()
where conversation_id = $1 and coalesce(summary_through, 0) < $3`;

export interface ContextRow {
  summary: string | null;
  summary_through: string | number | null;
  summary_turns: number | null;
  id: string | number | null;
  request_id: string | null;
  role: StoredTurn["role"] | null;
  content: string | null;
}

export function contextFromRows(rows: readonly ContextRow[]): {
  summary: ConversationSummary | undefined;
  turns: StoredTurn[];
} {
  const first = rows[0];
  const summary =
    first?.summary != null && first.summary_through != null
      ? { text: first.summary, throughId: Number(first.summary_through), turns: first.summary_turns ?? 0 }
      : undefined;
  const turns: StoredTurn[] = [];
  for (const r of rows) {
    if (r.id == null || r.role == null || r.content == null) continue;
    turns.push({ id: Number(r.id), role: r.role, content: r.content });
  }
  return { summary, turns };
}
