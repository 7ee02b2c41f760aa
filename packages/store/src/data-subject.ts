import { createHash } from "node:crypto";
import { type ContentCipher, subjectOf } from "@chatq/vault";
import { type ConnectionOptions, createPool, Database } from "./postgres-pool.ts";
import { contentPlace, openTurns } from "./seal-content.ts";
import { openCipher, type StoreEncryption } from "./store-cipher.ts";
import { joinReply } from "./stored-reply.ts";

/** A data subject: one user of one tenant (GDPR articles 15 and 17 are asked per person). */
export interface DataSubject {
  tenant: string;
  userId: string;
}

export interface SubjectToolOptions extends ConnectionOptions {
  encryption?: StoreEncryption;
  /** Who asked: recorded in the audit row each operation writes. */
  by: string;
}

/** What the audit log says about a subject without naming them: erasure must not leave the id behind in clear. */
export const subjectDigest = (s: DataSubject): string =>
  createHash("sha256").update(`${s.tenant}\u0000${s.userId}`).digest("hex").slice(0, 32);

async function withDb<T>(
  opts: SubjectToolOptions,
  fn: (db: Database, cipher: ContentCipher) => Promise<T>,
): Promise<T> {
  const db = new Database(createPool({ ...opts, poolSize: 2 }, () => {}));
  try {
    return await fn(db, await openCipher(db, opts.encryption));
  } finally {
    await db.end();
  }
}

const audit = (db: Database, event: string, tenant: string, detail: Record<string, unknown>) =>
  db.query(
    "audit.subject",
    "insert into audit_log (at, tenant, event, detail) values (now(), $1, $2, $3::jsonb)",
    [tenant, event, JSON.stringify(detail)],
  );

export interface SubjectExport {
  tenant: string;
  user_id: string;
  exported_at: string;
  consent: { notice_version: string; granted_at: string; revoked_at: string | null } | null;
  requests: {
    request_id: string;
    conversation_id: string | null;
    model: string | null;
    status: string;
    storage_basis: string | null;
    received_at: string | null;
    finished_at: string | null;
    request: unknown;
    reply: unknown;
  }[];
  conversations: {
    conversation_id: string;
    created_at: string;
    summary: string | null;
    messages: { role: string; content: string; request_id: string; created_at: string }[];
  }[];
}

/** `chatq export`: everything stored about one data subject, opened, as one JSON document. Audited. */
export async function exportSubject(opts: SubjectToolOptions, s: DataSubject): Promise<SubjectExport> {
  return withDb(opts, async (db, cipher) => {
    const [consent] = await db.query<{ notice_version: string; granted_at: Date; revoked_at: Date | null }>(
      "export.consent",
      "select notice_version, granted_at, revoked_at from consents where tenant = $1 and user_id = $2",
      [s.tenant, s.userId],
    );
    const requests = await db.query<{
      request_id: string;
      conversation_id: string | null;
      model: string | null;
      status: string;
      storage_basis: string | null;
      received_at: Date | null;
      finished_at: Date | null;
      payload: unknown;
      reply: unknown;
      content: string | null;
    }>(
      "export.requests",
      `select q.request_id, q.conversation_id, q.model, q.status, q.storage_basis, q.received_at, q.finished_at,
              q.payload, r.reply, r.content
       from requests q left join replies r using (request_id)
       where q.tenant = $1 and q.user_id = $2 order by q.created_at, q.request_id`,
      [s.tenant, s.userId],
    );
    const sealedPayloads = requests.map((r) => (typeof r.payload === "string" ? r.payload : null));
    const opened = await cipher.openAll([
      ...requests.flatMap((r, n) => {
        const p = sealedPayloads[n];
        return p == null ? [] : [{ ad: contentPlace.payload(r.request_id), value: p }];
      }),
      ...requests.flatMap((r) =>
        r.content === null ? [] : [{ ad: contentPlace.reply(r.request_id), value: r.content }],
      ),
    ]);
    let n = 0;
    const payloads = requests.map((r) =>
      typeof r.payload === "string" ? JSON.parse(opened[n++] ?? "null") : r.payload,
    );
    const contents = requests.map((r) => (r.content === null ? null : (opened[n++] ?? null)));

    const conversations = await db.query<{
      conversation_id: string;
      created_at: Date;
      summary: string | null;
      summary_through: string | null;
    }>(
      "export.conversations",
      "select conversation_id, created_at, summary, summary_through from conversations where tenant = $1 and user_id = $2 order by created_at",
      [s.tenant, s.userId],
    );
    const out: SubjectExport["conversations"] = [];
    for (const c of conversations) {
      const messages = await db.query<{
        conversation_id: string;
        request_id: string;
        role: string;
        content: string;
        created_at: Date;
      }>(
        "export.messages",
        "select conversation_id, request_id, role, content, created_at from conversation_messages where conversation_id = $1 order by id",
        [c.conversation_id],
      );
      const [summary] =
        c.summary === null
          ? [null]
          : await cipher.openAll([
              { ad: contentPlace.summary(c.conversation_id, Number(c.summary_through)), value: c.summary },
            ]);
      out.push({
        conversation_id: c.conversation_id,
        created_at: c.created_at.toISOString(),
        summary: summary ?? null,
        messages: (await openTurns(cipher, messages)).map((m) => ({
          role: m.role,
          content: m.content,
          request_id: m.request_id,
          created_at: m.created_at.toISOString(),
        })),
      });
    }
    const result: SubjectExport = {
      tenant: s.tenant,
      user_id: s.userId,
      exported_at: new Date().toISOString(),
      consent:
        consent === undefined
          ? null
          : {
              notice_version: consent.notice_version,
              granted_at: consent.granted_at.toISOString(),
              revoked_at: consent.revoked_at?.toISOString() ?? null,
            },
      requests: requests.map((r, i) => ({
        request_id: r.request_id,
        conversation_id: r.conversation_id,
        model: r.model,
        status: r.status,
        storage_basis: r.storage_basis,
        received_at: r.received_at?.toISOString() ?? null,
        finished_at: r.finished_at?.toISOString() ?? null,
        request: payloads[i] ?? null,
        reply: r.reply === null ? null : joinReply(r.reply, contents[i] ?? null),
      })),
      conversations: out,
    };
    await audit(db, "exported", s.tenant, {
      by: opts.by,
      subject: subjectDigest(s),
      requests: result.requests.length,
      conversations: out.length,
    });
    return result;
  });
}

export interface ErasureReport {
  dataKeys: number;
  requests: number;
  conversations: number;
  messages: number;
  consents: number;
}

/**
 * `chatq erase`: crypto-shreds the subject (deletes their data keys: every ciphertext under them, in this database
 * and in every backup of it, becomes unreadable at once) and deletes their rows, in one transaction. The usage
 * ledger (no content, no user_id) and the audit log (no content) stay; the audit row says who asked, and names
 * the subject only by a digest.
 */
export async function eraseSubject(opts: SubjectToolOptions, s: DataSubject): Promise<ErasureReport> {
  const subject = subjectOf({ tenant: s.tenant, userId: s.userId });
  return withDb(opts, async (db) => {
    const [row] = await db.query<{
      keys: number;
      requests: number;
      conversations: number;
      messages: number;
      consents: number;
    }>(
      "erase",
      `with keys as (delete from data_keys where tenant = $1 and user_id = $2 and user_id <> '' returning 1),
       convs as (select conversation_id from conversations where tenant = $1 and user_id = $2),
       msgs as (
         delete from conversation_messages m
         where m.conversation_id in (select conversation_id from convs)
            or m.request_id in (select request_id from requests where tenant = $1 and user_id = $2)
         returning 1),
       deleted_convs as (delete from conversations where conversation_id in (select conversation_id from convs) returning 1),
       reqs as (delete from requests where tenant = $1 and user_id = $2 returning 1),
       consent as (delete from consents where tenant = $1 and user_id = $2 returning 1)
       select (select count(*) from keys)::int as keys, (select count(*) from reqs)::int as requests,
              (select count(*) from deleted_convs)::int as conversations, (select count(*) from msgs)::int as messages,
              (select count(*) from consent)::int as consents`,
      [subject.tenant, subject.user_id],
    );
    const report = {
      dataKeys: row?.keys ?? 0,
      requests: row?.requests ?? 0,
      conversations: row?.conversations ?? 0,
      messages: row?.messages ?? 0,
      consents: row?.consents ?? 0,
    };
    await audit(db, "erased", s.tenant, { by: opts.by, subject: subjectDigest(s), ...report });
    return report;
  });
}

/** `chatq consent grant|revoke`: recorded with its time and the version of the notice the user agreed to. */
export async function recordConsent(
  opts: SubjectToolOptions,
  s: DataSubject,
  change: { granted: true; noticeVersion: string } | { granted: false },
): Promise<void> {
  await withDb(opts, async (db) => {
    if (change.granted)
      await db.query(
        "consent.grant",
        `insert into consents (tenant, user_id, notice_version, granted_at) values ($1, $2, $3, now())
         on conflict (tenant, user_id) do update
           set notice_version = excluded.notice_version, granted_at = excluded.granted_at, revoked_at = null`,
        [s.tenant, s.userId, change.noticeVersion],
      );
    else
      await db.query(
        "consent.revoke",
        "update consents set revoked_at = now() where tenant = $1 and user_id = $2",
        [s.tenant, s.userId],
      );
    await audit(db, change.granted ? "consent_granted" : "consent_revoked", s.tenant, {
      by: opts.by,
      subject: subjectDigest(s),
      ...(change.granted && { notice_version: change.noticeVersion }),
    });
  });
}

/** `chatq tenants policy`: how the tenant's content is stored and for how long. */
export async function setTenantPolicy(
  opts: SubjectToolOptions,
  tenant: string,
  policy: {
    storage?: string;
    contentRetention?: string | null | undefined;
    metadataRetention?: string | null | undefined;
  },
): Promise<void> {
  await withDb(opts, async (db) => {
    await db.query(
      "tenant.policy",
      `update tenants set storage_policy = coalesce($2, storage_policy),
         content_retention = case when $3::boolean then $4::interval else content_retention end,
         metadata_retention = case when $5::boolean then $6::interval else metadata_retention end,
         updated_at = now()
       where tenant_id = $1`,
      [
        tenant,
        policy.storage ?? null,
        policy.contentRetention !== undefined,
        policy.contentRetention ?? null,
        policy.metadataRetention !== undefined,
        policy.metadataRetention ?? null,
      ],
    );
  });
}
