-- 0001_init: chatq's tables.
--
-- Applied by migrate() (packages/store) inside one transaction, with search_path set to the target schema, so no
-- name here is schema-qualified: the same file builds `public` in production and a throwaway schema per test file.
--
-- Content (what users wrote, what the model answered) lives in exactly four columns, each holding nothing else:
--   requests.payload, conversation_messages.content, conversations.summary, replies.content.
-- Encryption at rest turns those four into bytea ciphertext; every other column stays queryable in clear.

-- One row per request_id ever seen: the idempotency key. Rows are inserted `pending` when a Kafka batch is admitted
-- and updated once, to completed/failed, when the outcome is stored (or inserted directly as `rejected`).
create table requests (
  request_id       text primary key,
  conversation_id  text,
  tenant           text,
  user_id          text,
  model            text,
  priority         text check (priority in ('interactive', 'batch')),
  status           text not null check (status in ('pending', 'completed', 'failed', 'rejected')),
  error_code       text,
  -- Content: the request exactly as received (after validation), so a batch can be reprocessed without Kafka.
  payload          jsonb,
  -- Where it came from, for reprocessing and for tracing a row back to a Kafka record.
  source_topic     text,
  source_partition integer,
  source_offset    bigint,
  received_at      timestamptz,
  finished_at      timestamptz,
  created_at       timestamptz not null default now()
) with (fillfactor = 90); -- every row is updated once (pending → final); free space keeps that update HOT.

create index requests_tenant_idx on requests (tenant);
create index requests_user_id_idx on requests (user_id);
create index requests_conversation_id_idx on requests (conversation_id);
create index requests_created_at_idx on requests (created_at);

-- The final answer to a request, stored before it is published: a redelivered request gets this row back instead of a
-- second API call. The primary key is what makes "a reply is never stored twice" true.
create table replies (
  request_id  text primary key references requests (request_id) on delete cascade,
  status      text not null check (status in ('completed', 'failed', 'rejected')),
  error_code  text,
  -- Content: the assistant's answer (null when failed/rejected).
  content     text,
  -- The published ChatReply minus `content`, so a republished reply says exactly what the first one said.
  reply       jsonb not null,
  created_at  timestamptz not null default now()
);

-- The billing ledger: one row per completed/failed request. No foreign key to requests on purpose: content retention
-- deletes requests, the ledger stays (it holds no content). Cost per model and tenant is one GROUP BY.
create table usage (
  request_id         text primary key,
  tenant             text,
  model              text not null,
  status             text not null check (status in ('completed', 'failed')),
  prompt_tokens      integer not null default 0,
  completion_tokens  integer not null default 0,
  total_tokens       integer not null default 0,
  -- Null when the model has no known price (0 would claim it was free).
  cost_usd           numeric(12, 6),
  latency_ms         integer not null,
  api_ms             integer not null,
  attempts           integer not null,
  created_at         timestamptz not null
);

create index usage_tenant_model_created_at_idx on usage (tenant, model, created_at);

create table conversations (
  conversation_id  text primary key,
  tenant           text,
  user_id          text,
  -- Content: for the future "summarise old turns" feature; summary_through is the last conversation_messages.id it covers.
  summary          text,
  summary_through  bigint,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);

create index conversations_tenant_idx on conversations (tenant);
create index conversations_user_id_idx on conversations (user_id);
create index conversations_updated_at_idx on conversations (updated_at);

-- History: the turns of completed requests only, in the order they happened. `id` is the order: an identity is
-- monotonic, and the worker runs one request per conversation at a time, so ids never interleave within a conversation.
create table conversation_messages (
  id               bigint generated always as identity primary key,
  conversation_id  text not null references conversations (conversation_id) on delete cascade,
  request_id       text not null,
  role             text not null check (role in ('system', 'user', 'assistant')),
  -- Content.
  content          text not null,
  created_at       timestamptz not null default now()
);

create index conversation_messages_conversation_id_id_idx on conversation_messages (conversation_id, id);
create index conversation_messages_request_id_idx on conversation_messages (request_id);

-- Every state change of every request, append-only. request_id is nullable: a dead-lettered message may have none.
-- `detail` never carries content (source position, latency, model, reason codes).
create table audit_log (
  id               bigint generated always as identity primary key,
  at               timestamptz not null,
  request_id       text,
  conversation_id  text,
  tenant           text,
  event            text not null check (event in (
                     'received', 'rejected', 'attempt_started', 'attempt_failed',
                     'completed', 'failed', 'dead_lettered', 'reply_republished')),
  attempt          integer,
  http_status      integer,
  error_code       text,
  detail           jsonb
);

create index audit_log_request_id_idx on audit_log (request_id);
create index audit_log_at_idx on audit_log (at);
create index audit_log_tenant_idx on audit_log (tenant);

-- Append-only, enforced: UPDATE, DELETE and TRUNCATE are refused unless the transaction first runs
--   set local chatq.audit_erasure = 'on';
-- That one setting is the controlled path for GDPR erasure and time-based retention, and it is greppable.
-- This guards against mistakes, not against a superuser (who can disable triggers).
create function audit_log_refuse_change() returns trigger
language plpgsql as $$
begin
  if coalesce(current_setting('chatq.audit_erasure', true), '') = 'on' then
    if tg_level = 'STATEMENT' then
      return null;
    elsif tg_op = 'DELETE' then
      return old;
    else
      return new;
    end if;
  end if;
  raise exception 'audit_log is append-only: % refused', tg_op
    using errcode = 'insufficient_privilege',
          hint = 'erasure and retention run "set local chatq.audit_erasure = ''on''" in their transaction';
end
$$;

create trigger audit_log_append_only
  before update or delete on audit_log
  for each row execute function audit_log_refuse_change();

create trigger audit_log_no_truncate
  before truncate on audit_log
  for each statement execute function audit_log_refuse_change();
