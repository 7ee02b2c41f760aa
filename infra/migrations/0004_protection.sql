-- 0004_protection: encryption keys, a tamper-evident audit log, consent and retention (README "Data protection").
-- Applies after 0003_guardrails: its list of audit events keeps `guardrail`.

-- The master key never reaches Postgres: only a check value wrapped by it, so a wrong key is refused at start
-- (packages/vault verifyMasterKey) before anything is read or written.
create table vault_master (
  id           integer primary key check (id = 1),
  master_id    text not null,
  check_value  bytea not null,
  rotated_at   timestamptz not null default now()
);

-- One data key per data subject (tenant + user_id; user_id '' is the tenant's own key for requests without one),
-- stored only wrapped by the master key. Erasing a subject deletes its keys: every ciphertext under them, in every
-- table and every backup, becomes unreadable at once. `retired` keys are older versions `chatq reencrypt` is
-- moving content off; it deletes them when no row uses them.
create table data_keys (
  key_id      text primary key,
  tenant      text not null,
  user_id     text not null,
  version     integer not null check (version >= 1),
  wrapped     bytea not null,
  master_id   text not null,
  state       text not null default 'active' check (state in ('active', 'retired')),
  created_at  timestamptz not null default now(),
  retired_at  timestamptz
);

create unique index data_keys_active_subject_idx on data_keys (tenant, user_id) where state = 'active';

-- The audit log as hash chains: every row's hash is SHA-256 over its chain's previous hash and the row itself.
-- A row goes to the chain of its writing backend (pid mod 16), so concurrent writers wait on 16 heads rather than
-- one, and a transaction only ever locks one head (no deadlock between writers). `chatq audit verify` recomputes
-- every chain; `chatq audit anchor` writes the heads to the log and metrics, so a truncated or rewritten tail
-- shows against an anchor kept elsewhere.
alter table audit_log
  add column chain      smallint,
  add column chain_seq  bigint,
  add column prev_hash  bytea,
  add column hash       bytea;

alter table audit_log drop constraint audit_log_event_check;
alter table audit_log add constraint audit_log_event_check check (event in (
  'received', 'rejected', 'attempt_started', 'attempt_failed', 'completed', 'failed', 'dead_lettered',
  'reply_republished', 'guardrail', 'anchor', 'erased', 'exported', 'purged', 'consent_granted', 'consent_revoked',
  'keys_rotated', 'reencrypted'));

create index audit_log_chain_idx on audit_log (chain, chain_seq);

create table audit_chain_heads (
  chain  smallint primary key,
  seq    bigint not null,
  hash   bytea not null
);

insert into audit_chain_heads (chain, seq, hash)
select c, 0, sha256(convert_to('chatq audit chain ' || c, 'UTF8')) from generate_series(0, 15) c;

-- What is hashed: every column but the hashes, as a JSON array (unambiguous: nulls stay null, strings are
-- escaped) in a form independent of session settings (time as microseconds since the epoch, jsonb in its
-- normalised text form). `chatq audit verify` recomputes SHA-256 over the previous hash and this text.
create function audit_row_text(r audit_log) returns text
language sql immutable as $$
  select json_build_array(r.id, (extract(epoch from r.at) * 1000000)::bigint, r.request_id, r.conversation_id,
                          r.tenant, r.event, r.attempt, r.http_status, r.error_code, r.detail::text, r.chain,
                          r.chain_seq)::text
$$;

create function audit_log_chain() returns trigger
language plpgsql as $$
declare
  head audit_chain_heads%rowtype;
begin
  select * into head from audit_chain_heads where chain = pg_backend_pid() % 16 for update;
  new.chain := head.chain;
  new.chain_seq := head.seq + 1;
  new.prev_hash := head.hash;
  new.hash := sha256(head.hash || convert_to(audit_row_text(new), 'UTF8'));
  update audit_chain_heads set seq = new.chain_seq, hash = new.hash where chain = head.chain;
  return new;
end
$$;

create trigger audit_log_chain before insert on audit_log for each row execute function audit_log_chain();

-- Where verification of a chain starts once retention has deleted its oldest rows: the last deleted row's hash.
create table audit_chain_purges (
  chain         smallint primary key,
  through_seq   bigint not null,
  through_hash  bytea not null
);

-- What a tenant's content may be stored on: none (never; metadata and usage only), with_consent (only for a
-- user_id with recorded consent), always (the tenant asserts its own legal basis). Retention: content (request
-- payloads, replies, history, summaries) and metadata (requests, replies' envelopes, usage, audit) older than this
-- are deleted by the purge; null keeps them.
alter table tenants
  add column storage_policy      text not null default 'always' check (storage_policy in ('none', 'with_consent', 'always')),
  add column content_retention   interval,
  add column metadata_retention  interval;

create table consents (
  tenant          text not null,
  user_id         text not null,
  notice_version  text not null,
  granted_at      timestamptz not null,
  revoked_at      timestamptz,
  primary key (tenant, user_id)
);

-- Which basis a request's content was stored on (or why it was not): always, consent, none, no_consent.
alter table requests add column storage_basis text;
