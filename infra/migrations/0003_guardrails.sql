-- Guardrail verdicts (PII redacted, moderation, topics, language, injection) are audit rows of their own: one per
-- request, its detail the verdicts (counts and categories, never content).
alter table audit_log drop constraint audit_log_event_check;
alter table audit_log add constraint audit_log_event_check check (event in (
  'received', 'rejected', 'attempt_started', 'attempt_failed',
  'completed', 'failed', 'dead_lettered', 'reply_republished', 'guardrail'));
