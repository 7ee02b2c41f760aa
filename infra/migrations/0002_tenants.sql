-- 0002_tenants: who may call the HTTP gateway (services/gateway), and the gateway replicas' reply topics.
--
-- Keys are never stored: only HMAC-SHA-256(pepper, key), the pepper living in the gateway's environment
-- (GATEWAY_KEY_PEPPER), so a copy of this table alone cannot be turned back into keys or checked offline.

create table tenants (
  tenant_id       text primary key check (tenant_id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  status          text not null default 'active' check (status in ('active', 'disabled')),
  -- Empty = every model the workers allow.
  allowed_models  text[] not null default '{}',
  -- Per-minute admission at the gateway (0 = unlimited), on the shared Redis budget.
  rpm             integer not null default 0 check (rpm >= 0),
  tpm             integer not null default 0 check (tpm >= 0),
  -- Spend caps in USD over usage.cost_usd (null = none).
  daily_usd       numeric(12, 6) check (daily_usd >= 0),
  monthly_usd     numeric(12, 6) check (monthly_usd >= 0),
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);

create table api_keys (
  key_id      text primary key,
  tenant_id   text not null references tenants (tenant_id),
  -- The visible start of the key (`cq_<key_id>`), what logs and `chatq keys list` show.
  prefix      text not null,
  hash        bytea not null unique,
  status      text not null default 'active' check (status in ('active', 'revoked')),
  created_at  timestamptz not null default now(),
  revoked_at  timestamptz
);

create index api_keys_tenant_id_idx on api_keys (tenant_id);

-- One row per running gateway replica: its reply topic and when it last said it was alive. A replica deletes its
-- row and topic on a clean stop; every replica reaps the rows and topics of replicas silent for longer than
-- GATEWAY_INSTANCE_TTL_MS, so replicas that die leave nothing behind for long.
create table gateway_instances (
  instance_id  text primary key,
  reply_topic  text not null,
  started_at   timestamptz not null default now(),
  seen_at      timestamptz not null default now()
);

-- Webhooks of asynchronous requests (POST /v1/requests with callback_url): one row per request, delivered by any
-- gateway replica once the request's reply is stored, retried with backoff until delivered or out of attempts.
create table webhooks (
  request_id       text primary key,
  tenant_id        text not null,
  url              text not null,
  attempts         integer not null default 0,
  next_attempt_at  timestamptz not null default now(),
  delivered_at     timestamptz,
  given_up_at      timestamptz,
  last_error       text,
  created_at       timestamptz not null default now()
);

create index webhooks_due_idx on webhooks (next_attempt_at) where delivered_at is null and given_up_at is null;
