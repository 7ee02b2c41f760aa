import type { ChatReply } from "@chatq/contracts";

export interface RejectedMessage {
  /** Present when the bad message still carries a usable request_id. */
  requestId?: string;
  conversationId?: string;
  tenant?: string;
  code: string;
  message: string;
  source: { topic: string; partition: number; offset: string };
  at: Date;
  /** The rejected reply the worker publishes, so a redelivery republishes the same one; built here when absent. */
  reply?: ChatReply;
}

/** The reply a rejected request gets: nothing was attempted, the error is the producer's and not retryable. */
export function rejectedReply(r: RejectedMessage & { requestId: string }): ChatReply {
  return {
    request_id: r.requestId,
    ...(r.conversationId === undefined ? {} : { conversation_id: r.conversationId }),
    status: "rejected",
    latency_ms: 0,
    attempts: 0,
    error: { code: r.code, message: r.message, retryable: false },
  };
}

export interface RejectionRow {
  ord: number;
  request_id: string | null;
  conversation_id: string | null;
  tenant: string | null;
  code: string;
  message: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
  at: string;
  /** The reply minus content (a rejected reply has none); null without a request_id. */
  reply: Omit<ChatReply, "content"> | null;
}

export function rejectionRows(rows: readonly RejectedMessage[]): RejectionRow[] {
  return rows.map((r, ord) => {
    const requestId = r.requestId ?? null;
    let reply: Omit<ChatReply, "content"> | null = null;
    if (requestId !== null) {
      const { content: _none, ...envelope } = r.reply ?? rejectedReply({ ...r, requestId });
      reply = envelope;
    }
    return {
      ord,
      request_id: requestId,
      conversation_id: r.conversationId ?? null,
      tenant: r.tenant ?? null,
      code: r.code,
      message: r.message,
      source_topic: r.source.topic,
      source_partition: r.source.partition,
      source_offset: r.source.offset,
      at: r.at.toISOString(),
      reply,
    };
  });
}

/**
 * One round trip: a "rejected" and a "dead_lettered" audit row per message; for a message with a request_id not
 * stored before, a `rejected` request row and its reply (so a redelivery gets the same answer). A request_id that
 * already exists keeps its row and reply: a request is answered once, ever.
 */
export const REJECT_SQL = `
with input as (
  select * from json_to_recordset($1::json) as x(
    ord int, request_id text, conversation_id text, tenant text, code text, message text,
    source_topic text, source_partition int, source_offset bigint, at timestamptz, reply jsonb)
),
firsts as (
  select distinct on (request_id) * from input where request_id is not null order by request_id, ord
),
stored_request as (
  insert into requests (request_id, conversation_id, tenant, status, error_code,
                        source_topic, source_partition, source_offset, received_at, finished_at)
  select request_id, conversation_id, tenant, 'rejected', code,
         source_topic, source_partition, source_offset, at, at
  from firsts
  order by request_id
  on conflict (request_id) do nothing
  returning request_id
),
stored_reply as (
  insert into replies (request_id, status, error_code, content, reply, created_at)
  select f.request_id, 'rejected', f.code, null, f.reply, f.at
  from firsts f join stored_request using (request_id)
  on conflict (request_id) do nothing
),
audited as (
  insert into audit_log (at, request_id, conversation_id, tenant, event, error_code, detail)
  select x.at, x.request_id, x.conversation_id, x.tenant, e.event, x.code,
         case when e.event = 'rejected'
              then jsonb_build_object('topic', x.source_topic, 'partition', x.source_partition,
                                      'offset', x.source_offset::text, 'message', x.message)
              else jsonb_build_object('topic', x.source_topic, 'partition', x.source_partition,
                                      'offset', x.source_offset::text)
         end
  from input x cross join (values (1, 'rejected'), (2, 'dead_lettered')) as e(n, event)
  order by x.ord, e.n
)
select count(*)::int as stored from stored_request`;
