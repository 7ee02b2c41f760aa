import type { ChatRequest } from "@chatq/contracts";
import type { ContentCipher } from "@chatq/vault";
import { type ConnectionOptions, createPool, Database, type QueryEvent } from "./postgres-pool.ts";
import { openPayloads } from "./seal-content.ts";
import { openCipher, type StoreEncryption } from "./store-cipher.ts";
import { toStoreError } from "./store-error.ts";

/** OpenAI's batch states, plus chatq's own ends: `collected` (nothing sent yet) and `done` (every member settled). */
export type BatchState =
  | "collected"
  | "validating"
  | "in_progress"
  | "finalizing"
  | "cancelling"
  | "completed"
  | "failed"
  | "expired"
  | "cancelled"
  | "done";

export interface BatchRow {
  batchId: string;
  openaiBatchId: string | null;
  inputFileId: string | null;
  outputFileId: string | null;
  errorFileId: string | null;
  model: string;
  status: BatchState;
  attempt: number;
  requestCount: number;
  deadlineAt: Date;
  polls: number;
  createdAt: Date;
}

/** A member still waiting for its answer, with what is needed to build and publish it. */
export interface BatchMember {
  requestId: string;
  request: ChatRequest;
  model: string;
  source: { topic: string; partition: number; offset: string };
  receivedAt: Date;
}

export interface NewBatch {
  batchId: string;
  model: string;
  owner: string;
  leaseMs: number;
  deadlineAt: Date;
  attempt: number;
  /** When it is first due (a resubmission after token_limit_exceeded waits); default now. */
  startInMs?: number;
}

/** Figures for the metrics: batches by state, requests waiting in batches, the oldest open batch. */
export interface BatchFigures {
  byState: Record<string, number>;
  requestsWaiting: number;
  oldestOpenSeconds: number;
}

export interface BatchStore {
  /**
   * One transaction: the batch row and its members. Returns the request ids recorded now; one that is already a
   * member of a batch (a redelivery) is not recorded again and belongs to its first batch.
   */
  handOver(batch: NewBatch, requestIds: readonly string[]): Promise<Set<string>>;
  /** Takes up to `limit` batches due for work whose lease is free (or ours); the lease runs `leaseMs`. */
  claimDue(owner: string, leaseMs: number, limit: number): Promise<BatchRow[]>;
  /** Extends our lease; false when it is someone else's now (stop working on it). */
  renew(batchId: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Records what OpenAI said (or that it was submitted) and when to look again. False: not our lease. */
  update(
    batchId: string,
    owner: string,
    u: {
      status: BatchState;
      openaiBatchId?: string;
      inputFileId?: string;
      outputFileId?: string | null;
      errorFileId?: string | null;
      error?: string | null;
      nextPollInMs: number;
      submitted?: boolean;
    },
  ): Promise<boolean>;
  /** Members of the batch not yet settled, with their stored requests. */
  members(batchId: string): Promise<BatchMember[]>;
  /** These members are answered (their outcome is stored). */
  settle(requestIds: readonly string[]): Promise<void>;
  /** One transaction: a new batch for leftovers, the members moved to it. */
  moveTo(batch: NewBatch, requestIds: readonly string[]): Promise<void>;
  /** The ids among these that belong to a batch (the synchronous path leaves them to it). */
  membersAmong(requestIds: readonly string[]): Promise<Set<string>>;
  /** Some batch is not done yet (a worker with every mode back at sync still finishes those). */
  anyOpen(): Promise<boolean>;
  figures(): Promise<BatchFigures>;
  close(): Promise<void>;
}

/** A new `collected` batch from newBatchParams: $3 its request ids, $7 the lease, $8 the delay before it is due. */
const NEW_BATCH_CTE = `
with batch as (
  insert into batches (batch_id, model, status, attempt, request_count, deadline_at, owner, lease_until, next_poll_at)
  values ($1, $2, 'collected', $6, cardinality($3::text[]), $5, $4,
          now() + make_interval(secs => $7::double precision / 1000), now() + make_interval(secs => $8::double precision / 1000))
  returning batch_id
)`;

const HAND_OVER_SQL = `${NEW_BATCH_CTE},
member as (
  insert into batch_members (request_id, batch_id)
  select id, (select batch_id from batch) from unnest($3::text[]) as id
  order by id
  on conflict (request_id) do nothing
  returning request_id
)
select request_id from member`;

const MOVE_SQL = `${NEW_BATCH_CTE}
update batch_members m set batch_id = (select batch_id from batch), handed_at = now()
where m.request_id = any($3::text[]) and m.settled_at is null`;

const CLAIM_SQL = `
update batches b set owner = $1, lease_until = now() + make_interval(secs => $2::double precision / 1000)
where b.batch_id in (
  select batch_id from batches
  where status <> 'done' and next_poll_at <= now() and (owner = $1 or lease_until is null or lease_until < now())
  order by next_poll_at
  limit $3
  for update skip locked
)
returning b.*`;

interface RawBatch {
  batch_id: string;
  openai_batch_id: string | null;
  input_file_id: string | null;
  output_file_id: string | null;
  error_file_id: string | null;
  model: string;
  status: BatchState;
  attempt: number;
  request_count: number;
  deadline_at: Date;
  polls: number;
  created_at: Date;
}

function toRow(r: RawBatch): BatchRow {
  return {
    batchId: r.batch_id,
    openaiBatchId: r.openai_batch_id,
    inputFileId: r.input_file_id,
    outputFileId: r.output_file_id,
    errorFileId: r.error_file_id,
    model: r.model,
    status: r.status,
    attempt: r.attempt,
    requestCount: r.request_count,
    deadlineAt: r.deadline_at,
    polls: r.polls,
    createdAt: r.created_at,
  };
}

/** The Batch API's tables (migration 0007), on a small pool of their own: polling never waits behind answers. */
export function createBatchStore(
  opts: ConnectionOptions & {
    /** The store's encryption at rest: members' payloads are read back sealed. */
    encryption?: StoreEncryption | undefined;
    onQuery?: (e: QueryEvent) => void;
    onError?: (err: unknown) => void;
  },
): BatchStore {
  const pool = createPool({ poolSize: 3, ...opts }, (err) => opts.onError?.(toStoreError(err, "pool")));
  const db = new Database(pool, opts.onQuery);
  let cipher: Promise<ContentCipher> | undefined;
  const payloadsOf = async (rows: { request_id: string; payload: unknown }[]) => {
    cipher ??= openCipher(db, opts.encryption);
    return openPayloads(await cipher, rows);
  };
  const newBatchParams = (b: NewBatch, ids: readonly string[]) => [
    b.batchId,
    b.model,
    [...ids],
    b.owner,
    b.deadlineAt.toISOString(),
    b.attempt,
    b.leaseMs,
    b.startInMs ?? 0,
  ];
  return {
    async handOver(batch, requestIds) {
      const rows = await db.query<{ request_id: string }>(
        "batch.handOver",
        HAND_OVER_SQL,
        newBatchParams(batch, requestIds),
      );
      return new Set(rows.map((r) => r.request_id));
    },

    async claimDue(owner, leaseMs, limit) {
      const rows = await db.query<RawBatch>("batch.claim", CLAIM_SQL, [owner, leaseMs, limit]);
      return rows.map(toRow);
    },

    async renew(batchId, owner, leaseMs) {
      const rows = await db.query(
        "batch.renew",
        `update batches set lease_until = now() + make_interval(secs => $3::double precision / 1000)
         where batch_id = $1 and owner = $2 returning 1`,
        [batchId, owner, leaseMs],
      );
      return rows.length > 0;
    },

    async update(batchId, owner, u) {
      const rows = await db.query(
        "batch.update",
        `update batches set
           status = $3,
           openai_batch_id = coalesce($4, openai_batch_id),
           input_file_id = coalesce($5, input_file_id),
           output_file_id = coalesce($6, output_file_id),
           error_file_id = coalesce($7, error_file_id),
           error = coalesce($8, error),
           next_poll_at = now() + make_interval(secs => $9::double precision / 1000),
           polls = polls + 1,
           submitted_at = case when $10 then now() else submitted_at end,
           finished_at = case when $3 = 'done' then now() else finished_at end
         where batch_id = $1 and owner = $2
         returning 1`,
        [
          batchId,
          owner,
          u.status,
          u.openaiBatchId ?? null,
          u.inputFileId ?? null,
          u.outputFileId ?? null,
          u.errorFileId ?? null,
          u.error ?? null,
          u.nextPollInMs,
          u.submitted === true,
        ],
      );
      return rows.length > 0;
    },

    async members(batchId) {
      const rows = await db.query<{
        request_id: string;
        payload: unknown;
        model: string;
        source_topic: string | null;
        source_partition: number | null;
        source_offset: string | null;
        received_at: Date | null;
      }>(
        "batch.members",
        `select m.request_id, r.payload, r.model, r.source_topic, r.source_partition, r.source_offset::text,
                r.received_at
         from batch_members m join requests r using (request_id)
         where m.batch_id = $1 and m.settled_at is null
         order by m.request_id`,
        [batchId],
      );
      const payloads = await payloadsOf(rows);
      return rows.map((r, n) => ({
        requestId: r.request_id,
        request: payloads[n] as ChatRequest,
        model: r.model,
        source: {
          topic: r.source_topic ?? "",
          partition: r.source_partition ?? 0,
          offset: r.source_offset ?? "0",
        },
        receivedAt: r.received_at ?? new Date(),
      }));
    },

    async settle(requestIds) {
      if (requestIds.length === 0) return;
      await db.query(
        "batch.settle",
        "update batch_members set settled_at = now() where request_id = any($1::text[]) and settled_at is null",
        [[...requestIds]],
      );
    },

    async moveTo(batch, requestIds) {
      await db.query("batch.move", MOVE_SQL, newBatchParams(batch, requestIds));
    },

    async membersAmong(requestIds) {
      if (requestIds.length === 0) return new Set();
      const rows = await db.query<{ request_id: string }>(
        "batch.membersAmong",
        "select request_id from batch_members where request_id = any($1::text[])",
        [[...requestIds]],
      );
      return new Set(rows.map((r) => r.request_id));
    },

    async anyOpen() {
      const [row] = await db.query<{ open: boolean }>(
        "batch.anyOpen",
        "select exists (select 1 from batches where status <> 'done') as open",
      );
      return row?.open === true;
    },

    async figures() {
      const [row] = await db.query<{
        by_state: Record<string, number> | null;
        waiting: number;
        oldest: number | null;
      }>(
        "batch.figures",
        `select (select jsonb_object_agg(status, n) from (select status, count(*)::int as n from batches group by status) s) as by_state,
                (select count(*)::int from batch_members where settled_at is null) as waiting,
                (select extract(epoch from now() - min(created_at))::float8 from batches where status <> 'done') as oldest`,
      );
      return {
        byState: row?.by_state ?? {},
        requestsWaiting: row?.waiting ?? 0,
        oldestOpenSeconds: row?.oldest ?? 0,
      };
    },

    close: () => db.end(),
  };
}
