import type { ChatRequest } from "@chatq/contracts";
import type { ContentCipher } from "@chatq/vault";
import { type ConnectionOptions, createPool, Database } from "./postgres-pool.ts";
import { openPayloads } from "./seal-content.ts";
import { openCipher, type StoreEncryption } from "./store-cipher.ts";
import { toStoreError } from "./store-error.ts";

/** Which stored requests a replay re-runs. Every field narrows; `until` is fixed when the job starts. */
export interface ReplayFilter {
  since?: string | undefined;
  until?: string | undefined;
  tenant?: string | undefined;
  conversation?: string | undefined;
  model?: string | undefined;
  /** requests.status: completed, failed, rejected, pending. */
  status?: string | undefined;
  ids?: string[] | undefined;
}

export interface ReplayJob {
  jobId: string;
  kind: "requests" | "dead_letters";
  filter: ReplayFilter & Record<string, unknown>;
  topic: string;
  status: "running" | "stopped" | "done";
  total: number;
  published: number;
  cursor: { at: string; id: string } | undefined;
}

export interface StoredRequestRow {
  requestId: string;
  request: ChatRequest;
  at: string;
}

export interface ReplayStore {
  createJob(job: Omit<ReplayJob, "published" | "cursor" | "status">): Promise<void>;
  job(jobId: string): Promise<ReplayJob | undefined>;
  count(filter: ReplayFilter): Promise<number>;
  /** The next `limit` matching requests after the cursor, in (received_at, request_id) order. */
  next(filter: ReplayFilter, cursor: ReplayJob["cursor"], limit: number): Promise<StoredRequestRow[]>;
  /** One transaction: the links of what was just published, and the job's cursor and count. */
  advance(
    jobId: string,
    links: readonly { requestId: string; replayOf: string }[],
    cursor: ReplayJob["cursor"],
  ): Promise<void>;
  setStatus(jobId: string, status: ReplayJob["status"]): Promise<void>;
  close(): Promise<void>;
}

const MATCH = `
  r.payload is not null
  and ($1::timestamptz is null or coalesce(r.received_at, r.created_at) >= $1)
  and ($2::timestamptz is null or coalesce(r.received_at, r.created_at) < $2)
  and ($3::text is null or r.tenant = $3)
  and ($4::text is null or r.conversation_id = $4)
  and ($5::text is null or r.model = $5)
  and ($6::text is null or r.status = $6)
  and ($7::text[] is null or r.request_id = any($7))`;

const filterParams = (f: ReplayFilter) => [
  f.since ?? null,
  f.until ?? null,
  f.tenant ?? null,
  f.conversation ?? null,
  f.model ?? null,
  f.status ?? null,
  f.ids ?? null,
];

/** `chatq replay`'s tables (migration 0007): jobs with a cursor, and the links from replays to originals. */
export function createReplayStore(
  opts: ConnectionOptions & {
    /** The store's encryption at rest: stored requests are read back sealed. */
    encryption?: StoreEncryption | undefined;
  },
): ReplayStore {
  const pool = createPool({ poolSize: 2, ...opts }, () => {});
  const db = new Database(pool);
  let cipher: Promise<ContentCipher> | undefined;
  return {
    async createJob(j) {
      await db.query(
        "replay.createJob",
        `insert into replay_jobs (job_id, kind, filter, topic, status, total) values ($1, $2, $3, $4, 'running', $5)`,
        [j.jobId, j.kind, JSON.stringify(j.filter), j.topic, j.total],
      );
    },

    async job(jobId) {
      const [r] = await db.query<{
        job_id: string;
        kind: ReplayJob["kind"];
        filter: ReplayJob["filter"];
        topic: string;
        status: ReplayJob["status"];
        total: number;
        published: number;
        cursor_at: string | null;
        cursor_id: string | null;
      }>("replay.job", "select *, cursor_at::text as cursor_at from replay_jobs where job_id = $1", [jobId]);
      if (r === undefined) return undefined;
      return {
        jobId: r.job_id,
        kind: r.kind,
        filter: r.filter,
        topic: r.topic,
        status: r.status,
        total: r.total,
        published: r.published,
        cursor:
          r.cursor_at === null || r.cursor_id === null ? undefined : { at: r.cursor_at, id: r.cursor_id },
      };
    },

    async count(filter) {
      const [r] = await db.query<{ n: number }>(
        "replay.count",
        `select count(*)::int as n from requests r where ${MATCH}`,
        filterParams(filter),
      );
      return r?.n ?? 0;
    },

    async next(filter, cursor, limit) {
      // `at` travels as text: a JS Date would drop the microseconds and the cursor would select rows again.
      const rows = await db.query<{ request_id: string; payload: unknown; at: string }>(
        "replay.next",
        `select r.request_id, r.payload, coalesce(r.received_at, r.created_at)::text as at from requests r
         where ${MATCH}
           and ($8::timestamptz is null or (coalesce(r.received_at, r.created_at), r.request_id) > ($8, $9::text))
         order by coalesce(r.received_at, r.created_at), r.request_id
         limit $10`,
        [...filterParams(filter), cursor?.at ?? null, cursor?.id ?? null, limit],
      );
      cipher ??= openCipher(db, opts.encryption);
      const payloads = await openPayloads(await cipher, rows);
      return rows.map((r, n) => ({ requestId: r.request_id, request: payloads[n] as ChatRequest, at: r.at }));
    },

    async advance(jobId, links, cursor) {
      await db.query(
        "replay.advance",
        `with link as (
           insert into replays (request_id, replay_of, job_id)
           select x.request_id, x.replay_of, $1 from json_to_recordset($2::json) as x(request_id text, replay_of text)
           on conflict (request_id) do nothing
           returning 1
         )
         update replay_jobs set published = published + (select count(*) from link),
           cursor_at = coalesce($3::timestamptz, cursor_at), cursor_id = coalesce($4, cursor_id), updated_at = now()
         where job_id = $1`,
        [
          jobId,
          JSON.stringify(links.map((l) => ({ request_id: l.requestId, replay_of: l.replayOf }))),
          cursor?.at ?? null,
          cursor?.id ?? null,
        ],
      );
    },

    async setStatus(jobId, status) {
      await db.query(
        "replay.status",
        "update replay_jobs set status = $2, updated_at = now() where job_id = $1",
        [jobId, status],
      );
    },

    close: () => db.end().catch((err: unknown) => Promise.reject(toStoreError(err, "close"))),
  };
}
