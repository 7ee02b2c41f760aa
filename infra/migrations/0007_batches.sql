-- 0007_batches: requests answered through OpenAI's Batch API, replays of stored requests, and their links.
--
-- A batch row is the durable owner of its members from the moment it is written: the worker commits their Kafka
-- offsets right after, so a 24 h batch never holds a partition back. The row goes through
--   collected (members recorded, nothing sent yet) → submitted states mirrored from OpenAI (validating, in_progress,
--   finalizing, cancelling) → an OpenAI final state (completed, failed, expired, cancelled) → done (every member
--   answered, resubmitted in a new batch, or failed).
-- Exactly one worker acts on a batch at a time: `owner` + `lease_until`, taken with FOR UPDATE SKIP LOCKED.
create table batches (
  batch_id         text primary key,
  openai_batch_id  text unique,
  input_file_id    text,
  output_file_id   text,
  error_file_id    text,
  model            text not null,
  status           text not null check (status in (
                     'collected', 'validating', 'in_progress', 'finalizing', 'cancelling',
                     'completed', 'failed', 'expired', 'cancelled', 'done')),
  -- 1 for a first submission; a resubmission of leftovers counts on.
  attempt          integer not null default 1,
  request_count    integer not null,
  -- After this the members still unanswered are failed (batch_deadline_exceeded) instead of resubmitted.
  deadline_at      timestamptz not null,
  owner            text,
  lease_until      timestamptz,
  next_poll_at     timestamptz not null default now(),
  polls            integer not null default 0,
  error            text,
  created_at       timestamptz not null default now(),
  submitted_at     timestamptz,
  finished_at      timestamptz
);

create index batches_due_idx on batches (next_poll_at) where status <> 'done';

-- One row per request handed to the Batch API: which batch owns it now (a resubmission moves it), and when it
-- was answered. The primary key is what makes a redelivered request join no second batch.
create table batch_members (
  request_id   text primary key references requests (request_id) on delete cascade,
  batch_id     text not null references batches (batch_id),
  handed_at    timestamptz not null default now(),
  settled_at   timestamptz
);

create index batch_members_batch_id_idx on batch_members (batch_id) where settled_at is null;

-- `chatq replay` and `chatq dlq replay`: which new request re-runs which original (a stored request, or a dead
-- letter's request), so `chatq compare` and people can read them side by side.
create table replays (
  request_id     text primary key,
  replay_of      text not null,
  job_id         text not null,
  created_at     timestamptz not null default now()
);

create index replays_replay_of_idx on replays (replay_of);

-- A replay job: what it selects (its filter, as given), and how far it got. `cursor` is the last original published,
-- in the job's order (received_at, request_id), so a resumed replay starts after it and publishes each original once.
create table replay_jobs (
  job_id        text primary key,
  kind          text not null check (kind in ('requests', 'dead_letters')),
  filter        jsonb not null,
  topic         text not null,
  status        text not null check (status in ('running', 'stopped', 'done')),
  total         integer not null,
  published     integer not null default 0,
  cursor_at     timestamptz,
  cursor_id     text,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);
