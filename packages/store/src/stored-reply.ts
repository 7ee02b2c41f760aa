import { type ChatReply, ChatReplySchema } from "@chatq/contracts";

/**
 * A reply is stored as its content (a content column, see 0001_init.sql) plus the rest of the ChatReply as jsonb.
 * Keeping the jsonb whole means a republished reply says exactly what the first one said, and a new ChatReply field
 * needs no migration.
 */
export interface StoredReply {
  content: string | null;
  envelope: Omit<ChatReply, "content">;
}

export function splitReply(reply: ChatReply): StoredReply {
  const { content, ...envelope } = reply;
  return { content: content ?? null, envelope };
}

/** Rebuilds the reply from a row. Validated: the row may predate a contract change, better to fail loudly here. */
export function joinReply(envelope: unknown, content: string | null): ChatReply {
  const base = typeof envelope === "object" && envelope !== null ? envelope : {};
  return ChatReplySchema.parse(content === null ? base : { ...base, content });
}
