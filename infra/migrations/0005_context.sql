-- 0005_context: what a conversation's stored summary covers.
--
-- conversations.summary (content) and summary_through (the last conversation_messages.id it covers) exist since
-- 0001. A summary always covers the conversation from its first turn, so its range is (first turn, summary_through];
-- summary_turns says how many turns that is, summary_model which model wrote it, summary_updated_at when.
alter table conversations
  add column summary_turns      integer,
  add column summary_model      text,
  add column summary_updated_at timestamptz;
