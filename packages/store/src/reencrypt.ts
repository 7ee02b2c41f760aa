import type { ContentCipher } from "@chatq/vault";
import { type ConnectionOptions, createPool, Database } from "./postgres-pool.ts";
import { contentPlace } from "./seal-content.ts";
import { openCipher, type StoreEncryption } from "./store-cipher.ts";

/**
 * One content column as re-encryption sees it: how to find a batch of rows sealed under a retired key, each
 * with its primary key, its subject, its place (associated data) and its ciphertext; and how to write one back.
 * The write names the old ciphertext, so a row changed meanwhile (a purge, an erase) is left alone.
 */
interface SealedColumn {
  name: string;
  select: string;
  update: string;
  place: (r: ColumnRow) => string;
}

interface ColumnRow {
  pk: string;
  tenant: string | null;
  user_id: string | null;
  a: string | null;
  b: string | null;
  value: string;
}

// $1: the LIKE pattern of retired key ids ('cq1.<id>.%' for each), $2: batch size.
const COLUMNS: SealedColumn[] = [
  {
    name: "requests.payload",
    select: `select request_id as pk, tenant, user_id, null as a, null as b, payload #>> '{}' as value from requests
             where jsonb_typeof(payload) = 'string' and payload #>> '{}' like any($1::text[]) limit $2`,
    update: `update requests set payload = to_jsonb($2::text) where request_id = $1 and payload #>> '{}' = $3`,
    place: (r) => contentPlace.payload(r.pk),
  },
  {
    name: "replies.content",
    select: `select r.request_id as pk, q.tenant, q.user_id, null as a, null as b, r.content as value
             from replies r left join requests q using (request_id) where r.content like any($1::text[]) limit $2`,
    update: "update replies set content = $2 where request_id = $1 and content = $3",
    place: (r) => contentPlace.reply(r.pk),
  },
  {
    name: "conversation_messages.content",
    select: `select m.id::text as pk, q.tenant, q.user_id, m.conversation_id as a, m.request_id || '|' || m.role as b,
                    m.content as value
             from conversation_messages m left join requests q using (request_id)
             where m.content like any($1::text[]) limit $2`,
    update: "update conversation_messages set content = $2 where id = $1::bigint and content = $3",
    place: (r) => {
      const [requestId = "", role = ""] = (r.b ?? "").split("|");
      return contentPlace.turn(r.a ?? "", requestId, role);
    },
  },
  {
    name: "conversations.summary",
    select: `select conversation_id as pk, tenant, user_id, summary_through::text as a, null as b, summary as value
             from conversations where summary like any($1::text[]) limit $2`,
    update: "update conversations set summary = $2 where conversation_id = $1 and summary = $3",
    place: (r) => contentPlace.summary(r.pk, Number(r.a)),
  },
];

export interface ReencryptReport {
  /** Data keys retired by this run (each subject got a new version). */
  retired: number;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  /** Retired keys deleted because no row uses them any more. */
  deleted: number;
  /** Retired keys some row still uses (written by a worker that had not yet seen the new key): run again. */
  remaining: number;
}

/**
 * `chatq reencrypt`: moves content to new data keys. Every active key is retired and its subject gets the next
 * version; then every sealed column is rewritten a batch at a time from retired keys to current ones. Resumable:
 * a run that stops leaves rows on retired keys, which the next run finds by their envelope's key id. A retired
 * key is deleted once no row uses it and writers have had time to move off it (their subject cache, 60 s).
 */
export async function reencryptAll(
  opts: ConnectionOptions & {
    encryption: StoreEncryption;
    batchSize?: number;
    /** Retire the current keys first (default); false only finishes what an earlier run started. */
    rotate?: boolean;
    /** How long a retired key must have been retired before it may be deleted; default 120 s. */
    graceSeconds?: number;
    onProgress?: (rows: number, column: string) => void;
  },
): Promise<ReencryptReport> {
  const db = new Database(createPool({ ...opts, poolSize: 2 }, () => {}));
  const started = performance.now();
  const batch = opts.batchSize ?? 500;
  try {
    const cipher: ContentCipher = await openCipher(db, opts.encryption);
    let retired = 0;
    if (opts.rotate ?? true) {
      const rows = await db.query(
        "reencrypt.retire",
        "update data_keys set state = 'retired', retired_at = now() where state = 'active' returning 1",
      );
      retired = rows.length;
    }
    const patterns = async () =>
      (
        await db.query<{ key_id: string }>(
          "reencrypt.keys",
          "select key_id from data_keys where state = 'retired'",
        )
      ).map((k) => `cq1.${k.key_id}.%`);
    const like = await patterns();
    let moved = 0;
    let remaining = 0;
    if (like.length > 0) {
      for (const column of COLUMNS) {
        for (;;) {
          const rows = await db.query<ColumnRow>(`reencrypt.${column.name}`, column.select, [like, batch]);
          if (rows.length === 0) break;
          const opened = await cipher.openAll(rows.map((r) => ({ ad: column.place(r), value: r.value })));
          const sealed = await cipher.sealAll(
            rows.map((r, n) => ({
              subject: { tenant: r.tenant, userId: r.user_id },
              ad: column.place(r),
              text: opened[n] ?? "",
            })),
          );
          let changed = 0;
          for (const [n, r] of rows.entries()) {
            const done = await db.query(`reencrypt.${column.name}.write`, `${column.update} returning 1`, [
              r.pk,
              sealed[n],
              r.value,
            ]);
            changed += done.length;
          }
          moved += changed;
          opts.onProgress?.(moved, column.name);
          // Nothing written: what is left moved under us, a rerun picks it up.
          if (changed === 0) break;
        }
      }
    }
    // Delete retired keys no row uses, once writers have certainly moved to the new versions.
    let deleted = 0;
    for (const pattern of like) {
      let used = false;
      for (const column of COLUMNS) {
        if ((await db.query(`reencrypt.check.${column.name}`, column.select, [[pattern], 1])).length > 0)
          used = true;
        if (used) break;
      }
      if (used) {
        remaining += 1;
        continue;
      }
      const keyId = pattern.slice(4, -2);
      const gone = await db.query(
        "reencrypt.delete",
        `delete from data_keys where key_id = $1 and state = 'retired'
           and retired_at < now() - make_interval(secs => $2) returning 1`,
        [keyId, opts.graceSeconds ?? 120],
      );
      deleted += gone.length;
    }
    const seconds = (performance.now() - started) / 1000;
    await db.query(
      "reencrypt.audit",
      "insert into audit_log (at, event, detail) values (now(), 'reencrypted', $1::jsonb)",
      [JSON.stringify({ retired, rows: moved, deleted, remaining })],
    );
    return {
      retired,
      rows: moved,
      seconds,
      rowsPerSecond: moved / Math.max(seconds, 1e-3),
      deleted,
      remaining,
    };
  } finally {
    await db.end();
  }
}
