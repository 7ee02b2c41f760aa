/**
 * Reads of the usage ledger: spend per tenant and route, a tenant's spend in its budget periods, models seen
 * without a price, and two variants of a route side by side. Each is one statement over `usage` (joined to
 * `replies` for finish reasons), whose numeric columns come back as strings from pg and are turned into numbers
 * here, in one place.
 */

export type SpendPeriod = "day" | "month";

export interface SpendQuery {
  tenant?: string | undefined;
  route?: string | undefined;
  since: Date;
  until?: Date | undefined;
  period: SpendPeriod;
}

export interface SpendRow {
  /** Start of the UTC day or month, ISO date (2026-12-01). */
  period: string;
  tenant: string | null;
  route: string | null;
  requests: number;
  costUsd: number;
  tokens: number;
  /** Completed requests whose model had no price: their cost is missing from costUsd. */
  unpriced: number;
}

export const SPEND_SQL = `
select to_char(date_trunc($4, created_at at time zone 'UTC'), 'YYYY-MM-DD') as period,
       tenant, route, count(*)::int as requests, coalesce(sum(cost_usd), 0)::float8 as cost_usd,
       coalesce(sum(total_tokens), 0)::float8 as tokens,
       (count(*) filter (where cost_usd is null and status = 'completed'))::int as unpriced
from usage
where ($1::text is null or tenant = $1) and ($5::text is null or route = $5)
  and created_at >= $2 and created_at < $3
group by 1, 2, 3
order by 1, 2, 3`;

export function spendParams(q: SpendQuery): unknown[] {
  return [
    q.tenant ?? null,
    q.since.toISOString(),
    (q.until ?? new Date("9999-12-31T00:00:00Z")).toISOString(),
    q.period,
    q.route ?? null,
  ];
}

export function toSpendRows(
  rows: {
    period: string;
    tenant: string | null;
    route: string | null;
    requests: number;
    cost_usd: number;
    tokens: number;
    unpriced: number;
  }[],
): SpendRow[] {
  return rows.map((r) => ({
    period: r.period,
    tenant: r.tenant,
    route: r.route,
    requests: r.requests,
    costUsd: Number(r.cost_usd),
    tokens: Number(r.tokens),
    unpriced: r.unpriced,
  }));
}

/** A tenant's spend since the start of its day and of its month (month start ≤ day start). */
export const TENANT_SPEND_SQL = `
select coalesce(sum(cost_usd) filter (where created_at >= $2), 0)::float8 as day_usd,
       coalesce(sum(cost_usd), 0)::float8 as month_usd
from usage
where tenant = $1 and created_at >= $3`;

export interface UnpricedModel {
  model: string;
  requests: number;
  lastSeen: Date;
}

/** Every model seen in traffic since `since`, so the CLI can check each against the price table in force. */
export const MODELS_SEEN_SQL = `
select model, count(*)::int as requests, max(created_at) as last_seen
from usage
where created_at >= $1
group by model
order by requests desc, model`;

export interface CompareQuery {
  route: string;
  variants: readonly string[];
  since: Date;
  until?: Date | undefined;
}

export interface VariantFigures {
  variant: string;
  requests: number;
  completed: number;
  failed: number;
  costUsd: number;
  costPerRequestUsd: number;
  costPer1kTokensUsd: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  /** Mean completion tokens of completed answers. */
  answerTokensMean: number;
  finishReasons: Record<string, number>;
  /** Answers the model refused or that were filtered (finish_reason content_filter). */
  refusals: number;
  errors: Record<string, number>;
  fallbacks: number;
}

export const COMPARE_SQL = `
with u as (
  select u.*, r.reply ->> 'finish_reason' as finish_reason, r.error_code as reply_error
  from usage u left join replies r using (request_id)
  where u.route = $1 and u.variant = any($2::text[]) and u.created_at >= $3 and u.created_at < $4
)
select variant,
       count(*)::int as requests,
       (count(*) filter (where status = 'completed'))::int as completed,
       (count(*) filter (where status = 'failed'))::int as failed,
       coalesce(sum(cost_usd), 0)::float8 as cost_usd,
       coalesce(sum(total_tokens), 0)::float8 as tokens,
       coalesce(percentile_cont(0.5) within group (order by latency_ms), 0)::float8 as p50,
       coalesce(percentile_cont(0.95) within group (order by latency_ms), 0)::float8 as p95,
       coalesce(avg(completion_tokens) filter (where status = 'completed'), 0)::float8 as answer_tokens,
       coalesce((select jsonb_object_agg(f, n) from (
         select finish_reason as f, count(*) as n from u u2
         where u2.variant = u.variant and finish_reason is not null group by finish_reason) fr), '{}') as finish_reasons,
       (count(*) filter (where finish_reason = 'content_filter'))::int as refusals,
       coalesce((select jsonb_object_agg(e, n) from (
         select reply_error as e, count(*) as n from u u3
         where u3.variant = u.variant and u3.status = 'failed' and reply_error is not null group by reply_error) er),
         '{}') as errors,
       (count(*) filter (where fallback_reason is not null))::int as fallbacks
from u
group by variant`;

export function compareParams(q: CompareQuery): unknown[] {
  return [
    q.route,
    [...q.variants],
    q.since.toISOString(),
    (q.until ?? new Date("9999-12-31T00:00:00Z")).toISOString(),
  ];
}

export interface CompareRow {
  variant: string;
  requests: number;
  completed: number;
  failed: number;
  cost_usd: number;
  tokens: number;
  p50: number;
  p95: number;
  answer_tokens: number;
  finish_reasons: Record<string, number>;
  refusals: number;
  errors: Record<string, number>;
  fallbacks: number;
}

/** One entry per asked variant, in the order asked; a variant with no traffic gets zeros. */
export function toVariantFigures(variants: readonly string[], rows: readonly CompareRow[]): VariantFigures[] {
  return variants.map((variant) => {
    const r = rows.find((x) => x.variant === variant);
    const requests = r?.requests ?? 0;
    const cost = Number(r?.cost_usd ?? 0);
    const tokens = Number(r?.tokens ?? 0);
    return {
      variant,
      requests,
      completed: r?.completed ?? 0,
      failed: r?.failed ?? 0,
      costUsd: cost,
      costPerRequestUsd: requests === 0 ? 0 : cost / requests,
      costPer1kTokensUsd: tokens === 0 ? 0 : (cost / tokens) * 1000,
      latencyP50Ms: Number(r?.p50 ?? 0),
      latencyP95Ms: Number(r?.p95 ?? 0),
      answerTokensMean: Number(r?.answer_tokens ?? 0),
      finishReasons: r?.finish_reasons ?? {},
      refusals: r?.refusals ?? 0,
      errors: r?.errors ?? {},
      fallbacks: r?.fallbacks ?? 0,
    };
  });
}
