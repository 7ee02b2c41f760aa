import type { ChatMessage, ChatReply, ChatRequest } from "@chatq/contracts";
import type { RequestKeyRow } from "./admission.ts";
import { splitReply } from "./stored-reply.ts";

export interface Outcome {
  request: ChatRequest;
  model: string;
  /** status completed or failed. */
  reply: ChatReply;
  /** The request's messages to append to history (completed only); the store appends the assistant reply itself. */
  newTurns: ChatMessage[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  costUsd?: number;
  apiMs: number;
  attempts: number;
  finishedAt: Date;
  /** Which route, variant and deployment answered (absent: a plain model on the default deployment). */
  routing?: { route?: string; variant?: string; deployment?: string; fallbackReason?: string };
  /** The price table version costUsd was computed with. */
  priceVersion?: string;
}

/** One element of the first json array COMPLETE_SQL reads. */
export interface OutcomeRow extends RequestKeyRow {
  /** rejected: refused at admission (a budget, a retired model) with no API call; it gets no usage row. */
  status: "completed" | "failed" | "rejected";
  error_code: string | null;
  finish_reason: string | null;
  content: string | null;
  reply: Omit<ChatReply, "content">;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost_usd: number | null;
  latency_ms: number;
  api_ms: number;
  attempts: number;
  finished_at: string;
  route: string | null;
  variant: string | null;
  deployment: string | null;
  fallback_reason: string | null;
  price_version: string | null;
}

/** One element of the second json array: a history turn. `seq` is its place in the append order. */
export interface TurnRow {
  seq: number;
  request_id: string;
  conversation_id: string;
  role: ChatMessage["role"];
  content: string;
}

/**
 * Turns outcomes into the rows of one COMPLETE_SQL statement. The rules that decide what is stored live here:
 *   - a request_id appears once (the first outcome wins), so one statement never touches a row twice;
 *   - only a completed request with a conversation_id adds history: its new turns, then the assistant's answer;
 *   - "rejected" stays rejected (refused before any call: no usage row); anything else but "completed" is failed;
 *   - usage falls back to the reply's usage, cost to the reply's cost_usd; milliseconds are whole numbers.
 */
export function completionRows(outcomes: readonly Outcome[]): { outcomes: OutcomeRow[]; turns: TurnRow[] } {
  const rows: OutcomeRow[] = [];
  const turns: TurnRow[] = [];
  const seen = new Set<string>();
  for (const o of outcomes) {
    const requestId = o.request.request_id;
    if (seen.has(requestId)) continue;
    seen.add(requestId);
    const status =
      o.reply.status === "completed" || o.reply.status === "rejected" ? o.reply.status : "failed";
    const { content, envelope } = splitReply(o.reply);
    const usage = o.usage ?? o.reply.usage;
    const conversationId = o.request.conversation_id ?? null;
    rows.push({
      ord: rows.length,
      request_id: requestId,
      conversation_id: conversationId,
      tenant: o.request.tenant ?? null,
      user_id: o.request.user_id ?? null,
      model: o.model,
      status,
      error_code: o.reply.error?.code ?? null,
      finish_reason: o.reply.finish_reason ?? null,
      content,
      reply: envelope,
      prompt_tokens: usage?.prompt_tokens ?? 0,
      completion_tokens: usage?.completion_tokens ?? 0,
      total_tokens: usage?.total_tokens ?? 0,
      cost_usd: o.costUsd ?? o.reply.cost_usd ?? null,
      latency_ms: Math.round(o.reply.latency_ms),
      api_ms: Math.round(o.apiMs),
      attempts: o.attempts,
      finished_at: o.finishedAt.toISOString(),
      route: o.routing?.route ?? null,
      variant: o.routing?.variant ?? null,
      deployment: o.routing?.deployment ?? null,
      fallback_reason: o.routing?.fallbackReason ?? null,
      price_version: o.priceVersion ?? null,
    });
    if (status !== "completed" || conversationId === null) continue;
    const history: ChatMessage[] = [...o.newTurns];
    if (content !== null && content.length > 0) history.push({ role: "assistant", content });
    for (const m of history) {
      turns.push({ seq: turns.length, request_id: requestId, conversation_id: conversationId, ...m });
    }
  }
  return { outcomes: rows, turns };
}

/**
 * One statement, hence one transaction and one round trip, for a whole group of outcomes.
 *
 * Everything hangs off `stored_reply`: only a request whose reply was inserted just now gets its request row
 * finished, a usage row, history and an audit row. A second complete() for the same request inserts no reply, so it
 * changes nothing — that is what makes "store → reply → commit" safe to repeat after a crash.
 *
 * The request row is upserted rather than updated so an outcome for a request admit() never saw still satisfies the
 * replies → requests foreign key instead of failing the whole group. Foreign keys are checked at the end of the
 * statement, so the order of the sibling CTEs does not matter. Rows are inserted in key order so two concurrent
 * groups take row locks in the same order.
 */
export const COMPLETE_SQL = `
with outcome as (
  select * from json_to_recordset($1::json) as x(
    ord int, request_id text, conversation_id text, tenant text, user_id text, model text, status text,
    error_code text, finish_reason text, content text, reply jsonb,
    prompt_tokens int, completion_tokens int, total_tokens int, cost_usd numeric,
    latency_ms int, api_ms int, attempts int, finished_at timestamptz,
    route text, variant text, deployment text, fallback_reason text, price_version text)
),
turn as (
  select * from json_to_recordset($2::json) as x(
    seq int, request_id text, conversation_id text, role text, content text)
),
stored_reply as (
  insert into replies (request_id, status, error_code, content, reply, created_at)
  select request_id, status, error_code, content, reply, finished_at from outcome
  order by request_id
  on conflict (request_id) do nothing
  returning request_id
),
done as (
  select o.* from outcome o join stored_reply using (request_id)
),
finished_request as (
  insert into requests (request_id, conversation_id, tenant, user_id, model, status, error_code, finished_at)
  select request_id, conversation_id, tenant, user_id, model, status, error_code, finished_at from done
  order by request_id
  on conflict (request_id) do update
    set status = excluded.status, error_code = excluded.error_code, finished_at = excluded.finished_at
),
usage_row as (
  insert into usage (request_id, tenant, model, status, prompt_tokens, completion_tokens, total_tokens, cost_usd,
                     latency_ms, api_ms, attempts, created_at,
                     route, variant, deployment, fallback_reason, price_version)
  select request_id, tenant, model, status, prompt_tokens, completion_tokens, total_tokens, cost_usd,
         latency_ms, api_ms, attempts, finished_at,
         route, variant, deployment, fallback_reason, price_version from done
  where status <> 'rejected'
  on conflict (request_id) do nothing
),
conversation as (
  insert into conversations (conversation_id, tenant, user_id, created_at, updated_at)
  select distinct on (conversation_id) conversation_id, tenant, user_id, finished_at, finished_at from done
  where status = 'completed' and conversation_id is not null
  order by conversation_id, finished_at desc
  on conflict (conversation_id) do update set updated_at = greatest(conversations.updated_at, excluded.updated_at)
),
history as (
  insert into conversation_messages (conversation_id, request_id, role, content, created_at)
  select t.conversation_id, t.request_id, t.role, t.content, d.finished_at
  from turn t join done d using (request_id)
  order by t.seq
),
audited as (
  insert into audit_log (at, request_id, conversation_id, tenant, event, attempt, error_code, detail)
  select finished_at, request_id, conversation_id, tenant, status, attempts, error_code,
         jsonb_strip_nulls(jsonb_build_object('model', model, 'latency_ms', latency_ms, 'api_ms', api_ms,
                                              'finish_reason', finish_reason))
  from done
  order by ord
)
select request_id from stored_reply`;
