import type { ChatReply, ChatRequest } from "@chatq/contracts";
import { joinReply } from "./stored-reply.ts";

export interface ReceivedRequest {
  request: ChatRequest;
  /** Resolved model, the worker's default applied. */
  model: string;
  priority: "interactive" | "batch";
  source: { topic: string; partition: number; offset: string };
  receivedAt: Date;
}

/**
 * What the worker does with a received request:
 *   new     — first time seen: process it.
 *   pending — stored before without a final reply (a crash, a rebalance): process it.
 *   done    — already answered: republish `reply`, no API call.
 */
export type Admission = { state: "new" } | { state: "pending" } | { state: "done"; reply: ChatReply };

/** The columns that say which request a row is about and whose it is (tenant, user: for erasure and cost). */
export interface RequestKeyRow {
  ord: number;
  request_id: string;
  conversation_id: string | null;
  tenant: string | null;
  user_id: string | null;
  model: string;
}

/** One element of the json array ADMIT_SQL reads; `ord` is the position in the batch (first occurrence wins). */
export interface AdmissionRow extends RequestKeyRow {
  priority: string;
  /** The request, or its sealed envelope with encryption on (stored as a jsonb string). */
  payload: ChatRequest | string | null;
  /** Which basis the content is stored on (storage-policy.ts); absent: always. */
  storage_basis?: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
  received_at: string;
}

export function admissionRows(batch: readonly ReceivedRequest[]): AdmissionRow[] {
  return batch.map((r, ord) => ({
    ord,
    request_id: r.request.request_id,
    conversation_id: r.request.conversation_id ?? null,
    tenant: r.request.tenant ?? null,
    user_id: r.request.user_id ?? null,
    model: r.model,
    priority: r.priority,
    payload: r.request,
    source_topic: r.source.topic,
    source_partition: r.source.partition,
    source_offset: r.source.offset,
    received_at: r.receivedAt.toISOString(),
  }));
}

/**
 * One round trip: insert the new requests, decide every request's admission, write a "received" audit row per
 * message (its detail says new/pending/done, or duplicate for a repeat inside the batch).
 *
 * The final SELECT reads the snapshot taken before the statement, so `requests`/`replies` there are what existed
 * before this batch. A request inserted concurrently by another worker is neither inserted here nor visible: it
 * comes out `pending`, which is safe — complete() stores only one reply per request_id.
 */
export const ADMIT_SQL = `
with input as (
  select * from json_to_recordset($1::json) as x(
    ord int, request_id text, conversation_id text, tenant text, user_id text, model text, priority text,
    payload jsonb, source_topic text, source_partition int, source_offset bigint, received_at timestamptz,
    storage_basis text)
),
firsts as (
  select distinct on (request_id) * from input order by request_id, ord
),
inserted as (
  insert into requests (request_id, conversation_id, tenant, user_id, model, priority, status, payload,
                        source_topic, source_partition, source_offset, received_at, storage_basis)
  select request_id, conversation_id, tenant, user_id, model, priority, 'pending', payload,
         source_topic, source_partition, source_offset, received_at, storage_basis
  from firsts
  order by request_id
  on conflict (request_id) do nothing
  returning request_id
),
admitted as (
  select f.request_id, f.ord as first_ord,
         case when i.request_id is not null then 'new'
              when rep.request_id is not null then 'done'
              else 'pending' end as state,
         rep.reply, rep.content
  from firsts f
  left join inserted i using (request_id)
  left join replies rep using (request_id)
),
audited as (
  insert into audit_log (at, request_id, conversation_id, tenant, event, detail)
  select x.received_at, x.request_id, x.conversation_id, x.tenant, 'received',
         jsonb_build_object('topic', x.source_topic, 'partition', x.source_partition, 'offset', x.source_offset::text,
                            'admission', case when x.ord = a.first_ord then a.state else 'duplicate' end,
                            'storage_basis', coalesce(x.storage_basis, 'always'))
  from input x join admitted a using (request_id)
  order by x.ord
)
select request_id, state, reply, content from admitted`;

export interface AdmittedRow {
  request_id: string;
  state: "new" | "pending" | "done";
  reply: unknown;
  content: string | null;
}

export function toAdmissions(rows: readonly AdmittedRow[]): Map<string, Admission> {
  const out = new Map<string, Admission>();
  for (const row of rows) {
    if (row.state === "done")
      out.set(row.request_id, { state: "done", reply: joinReply(row.reply, row.content) });
    else out.set(row.request_id, { state: row.state });
  }
  return out;
}
