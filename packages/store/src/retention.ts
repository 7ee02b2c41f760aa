import { type ConnectionOptions, createPool, Database } from "./postgres-pool.ts";

export interface PurgeReport {
  tenants: number;
  payloads: number;
  replies: number;
  messages: number;
  summaries: number;
  requests: number;
  usage: number;
  conversations: number;
}

/**
 * Each statement empties or deletes at most `$3` rows of one tenant older than its retention (`$2`), so no lock is
 * held for long and a purge can stop anywhere; the caller repeats a statement until it touches fewer than `$3`.
 */
const CONTENT_STEPS = {
  payloads: `update requests set payload = null where request_id in (
    select request_id from requests where tenant = $1 and payload is not null and created_at < now() - $2::interval
    limit $3)`,
  replies: `update replies set content = null where request_id in (
    select r.request_id from replies r join requests q using (request_id)
    where q.tenant = $1 and r.content is not null and r.created_at < now() - $2::interval limit $3)`,
  messages: `delete from conversation_messages where id in (
    select m.id from conversation_messages m join conversations c using (conversation_id)
    where c.tenant = $1 and m.created_at < now() - $2::interval limit $3)`,
  summaries: `update conversations set summary = null, summary_through = null, summary_turns = null
    where conversation_id in (
      select conversation_id from conversations
      where tenant = $1 and summary is not null and summary_updated_at < now() - $2::interval limit $3)`,
} as const;

const METADATA_STEPS = {
  // Replies go with their request (on delete cascade), history with its conversation.
  requests: `delete from requests where request_id in (
    select request_id from requests where tenant = $1 and created_at < now() - $2::interval limit $3)`,
  usage: `delete from usage where request_id in (
    select request_id from usage where tenant = $1 and created_at < now() - $2::interval limit $3)`,
  conversations: `delete from conversations where conversation_id in (
    select conversation_id from conversations where tenant = $1 and updated_at < now() - $2::interval limit $3)`,
} as const;

/**
 * Deletes what is past each tenant's retention (tenants.content_retention, metadata_retention), in batches of
 * `batchSize` rows, and writes one `purged` audit row with the counts. The audit log itself is not purged.
 */
export async function purgeExpired(
  opts: ConnectionOptions & { batchSize?: number; by: string },
): Promise<PurgeReport> {
  const db = new Database(createPool({ ...opts, poolSize: 1 }, () => {}));
  const batch = opts.batchSize ?? 1_000;
  const report: PurgeReport = {
    tenants: 0,
    payloads: 0,
    replies: 0,
    messages: 0,
    summaries: 0,
    requests: 0,
    usage: 0,
    conversations: 0,
  };
  try {
    const tenants = await db.query<{ tenant_id: string; content: string | null; metadata: string | null }>(
      "purge.tenants",
      `select tenant_id, content_retention::text as content, metadata_retention::text as metadata from tenants
       where content_retention is not null or metadata_retention is not null order by tenant_id`,
    );
    const run = async (step: keyof PurgeReport, sql: string, tenant: string, retention: string) => {
      for (;;) {
        const rows = await db.query(`purge.${step}`, `${sql} returning 1`, [tenant, retention, batch]);
        report[step] += rows.length;
        if (rows.length < batch) return;
      }
    };
    for (const t of tenants) {
      report.tenants += 1;
      if (t.content !== null)
        for (const [step, sql] of Object.entries(CONTENT_STEPS))
          await run(step as keyof PurgeReport, sql, t.tenant_id, t.content);
      if (t.metadata !== null)
        for (const [step, sql] of Object.entries(METADATA_STEPS))
          await run(step as keyof PurgeReport, sql, t.tenant_id, t.metadata);
    }
    await db.query(
      "purge.audit",
      "insert into audit_log (at, event, detail) values (now(), 'purged', $1::jsonb)",
      [JSON.stringify({ by: opts.by, ...report })],
    );
    return report;
  } finally {
    await db.end();
  }
}
